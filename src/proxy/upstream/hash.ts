// xxHash64 (Yann Collet's XXH64), the hash Envoy uses for hash policies, ring entries and
// Maglev permutations. Using the same function means a request key lands where Envoy's own
// arithmetic would put it (host keys "ip:port" and "ip:port_N" are Envoy's too). Written from
// the algorithm's public specification with BigInt arithmetic modulo 2^64: about a
// microsecond for the short strings hashed per request (see hash.test.ts for the known
// answers it is checked against).

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const encoder = new TextEncoder();
/** Reused for string input (hashing is synchronous, so one buffer is enough). */
let scratch = new Uint8Array(256);

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK;
}

/** One accumulator step: acc + lane * P2, rotated by 31, times P1. */
function round(acc: bigint, lane: bigint): bigint {
  acc = (acc + lane * P2) & MASK;
  return (rotl(acc, 31n) * P1) & MASK;
}

function mergeRound(acc: bigint, v: bigint): bigint {
  acc ^= round(0n, v);
  return (acc * P1 + P4) & MASK;
}

/** The UTF-8 bytes of s in the scratch buffer (grown when needed). */
function utf8(s: string): Uint8Array {
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(s.length * 3);
  const { written } = encoder.encodeInto(s, scratch);
  return scratch.subarray(0, written);
}

/** XXH64 of the UTF-8 bytes of `input` (or the bytes themselves), as an unsigned 64-bit BigInt. */
export function xxhash64(input: string | Uint8Array, seed = 0n): bigint {
  const b = typeof input === "string" ? utf8(input) : input;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u64 = (at: number): bigint => view.getBigUint64(at, true);
  const u32 = (at: number): bigint => BigInt(view.getUint32(at, true));
  const len = b.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & MASK;
    let v2 = (seed + P2) & MASK;
    let v3 = seed & MASK;
    let v4 = (seed - P1) & MASK;
    for (; i + 32 <= len; i += 32) {
      v1 = round(v1, u64(i));
      v2 = round(v2, u64(i + 8));
      v3 = round(v3, u64(i + 16));
      v4 = round(v4, u64(i + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & MASK;
  }
  h = (h + BigInt(len)) & MASK;
  for (; i + 8 <= len; i += 8) {
    h ^= round(0n, u64(i));
    h = (rotl(h, 27n) * P1 + P4) & MASK;
  }
  if (i + 4 <= len) {
    h ^= (u32(i) * P1) & MASK;
    h = (rotl(h, 23n) * P2 + P3) & MASK;
    i += 4;
  }
  for (; i < len; i++) {
    h ^= (BigInt(b[i]) * P5) & MASK;
    h = (rotl(h, 11n) * P1) & MASK;
  }
  h ^= h >> 33n;
  h = (h * P2) & MASK;
  h ^= h >> 29n;
  h = (h * P3) & MASK;
  h ^= h >> 32n;
  return h;
}

/** A uniformly random 64-bit value: the hash of a request that has none (Envoy picks at random then). */
export function randomHash(): bigint {
  const hi = BigInt(Math.floor(Math.random() * 0x1_0000_0000));
  const lo = BigInt(Math.floor(Math.random() * 0x1_0000_0000));
  return (hi << 32n) | lo;
}

/** Envoy's way of folding several hash policies into one: rotate the running value left by one, then xor. */
export function combineHashes(previous: bigint | undefined, next: bigint): bigint {
  if (previous === undefined) return next;
  return (rotl(previous, 1n) ^ next) & MASK;
}
