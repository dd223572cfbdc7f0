// Random trace and span ids as lower-case hex. Bytes come from node:crypto in 4 KiB refills
// (one system call per ~500 span ids instead of one per id); an all-zero id, invalid in both
// W3C and B3, is drawn again.
import { randomFillSync } from "node:crypto";

const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function hex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL.length) {
      randomFillSync(POOL);
      offset = 0;
    }
    const s = POOL.toString("hex", offset, offset + bytes);
    offset += bytes;
    if (!/^0+$/.test(s)) return s;
  }
}

/** 16 hex characters (64 bits). */
export function newSpanId(): string {
  return hex(8);
}

/** 32 hex characters (128 bits), or 16 when `bits64` (Zipkin's enable64bitTraceId). */
export function newTraceId(bits64 = false): string {
  return hex(bits64 ? 8 : 16);
}
