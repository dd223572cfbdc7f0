// Reads the server name (SNI) and ALPN list from the start of a TLS connection without
// terminating it, as Envoy's tls_inspector does for filter_chain_match.server_names.
// Bytes: TLS records of type 22 (handshake) carry a ClientHello (handshake type 1), possibly
// split over several records; its extensions hold server_name (0) and ALPN (16). Never
// throws: malformed input is "invalid", a short prefix is "incomplete" (read more).

export type ClientHello =
  | { kind: "incomplete" }
  | { kind: "not_tls" }
  | { kind: "invalid"; reason: string }
  | { kind: "ok"; serverName: string | undefined; alpn: string[] };

/** Envoy's tls_inspector default max_client_hello_size. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const NAME_TYPE_HOST = 0x00;
const INCOMPLETE: ClientHello = { kind: "incomplete" };

function invalid(reason: string): ClientHello {
  return { kind: "invalid", reason };
}

/**
 * Joins the handshake bytes of the leading records: the ClientHello message (type, length,
 * body), or a verdict when it cannot be had yet (or at all).
 */
function handshakeMessage(buf: Buffer): Buffer | ClientHello {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== RECORD_HANDSHAKE) return { kind: "not_tls" };
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1; // total handshake bytes wanted, known once the 4-byte header is in
  let off = 0;
  while (need < 0 || have < need) {
    if (off + 5 > buf.length) return buf.length >= MAX_CLIENT_HELLO_BYTES ? invalid("client_hello_too_large") : INCOMPLETE;
    if (buf[off] !== RECORD_HANDSHAKE) return invalid("record_not_handshake");
    const major = buf[off + 1];
    if (major !== 3) return invalid("record_version");
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > 16384 + 2048) return invalid("record_length");
    if (off + 5 + len > buf.length) {
      // Take what is there: the header may already tell us this is not a ClientHello.
      parts.push(buf.subarray(off + 5));
      have += buf.length - off - 5;
      const partial = Buffer.concat(parts);
      if (partial.length >= 1 && partial[0] !== HANDSHAKE_CLIENT_HELLO) return invalid("not_client_hello");
      if (partial.length >= 4 && 4 + partial.readUIntBE(1, 3) > MAX_CLIENT_HELLO_BYTES) return invalid("client_hello_too_large");
      return buf.length >= MAX_CLIENT_HELLO_BYTES ? invalid("client_hello_too_large") : INCOMPLETE;
    }
    parts.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid("not_client_hello");
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO_BYTES) return invalid("client_hello_too_large");
    }
  }
  const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return all.subarray(0, need);
}

/** A bounds-checked reader; any read past the end sets `bad` and returns 0 / an empty buffer. */
class Reader {
  bad = false;
  private off = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  get left(): number {
    return this.b.length - this.off;
  }
  u8(): number {
    if (this.left < 1) return this.fail();
    return this.b[this.off++]!;
  }
  u16(): number {
    if (this.left < 2) return this.fail();
    const v = this.b.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.left < n) {
      this.fail();
      return Buffer.alloc(0);
    }
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  private fail(): number {
    this.bad = true;
    this.off = this.b.length;
    return 0;
  }
}

/** A DNS name as SNI may carry it (RFC 6066: no trailing dot, no IP literals needed here). */
function hostName(raw: Buffer): string | undefined {
  if (raw.length === 0 || raw.length > 255) return undefined;
  for (const c of raw) {
    // letters, digits, "-", ".", "_" (seen in the wild), "*" never
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f;
    if (!ok) return undefined;
  }
  return raw.toString("latin1").toLowerCase().replace(/\.$/, "");
}

function parseServerName(data: Buffer): string | undefined | ClientHello {
  const r = new Reader(data);
  const listLen = r.u16();
  const list = new Reader(r.bytes(listLen));
  if (r.bad || r.left !== 0) return invalid("server_name_extension");
  while (list.left > 0) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (list.bad) return invalid("server_name_extension");
    if (type !== NAME_TYPE_HOST) continue;
    const host = hostName(name);
    if (host === undefined) return invalid("server_name_value");
    return host;
  }
  return undefined;
}

function parseAlpn(data: Buffer): string[] | ClientHello {
  const r = new Reader(data);
  const list = new Reader(r.bytes(r.u16()));
  if (r.bad || r.left !== 0) return invalid("alpn_extension");
  const out: string[] = [];
  while (list.left > 0) {
    const p = list.bytes(list.u8());
    if (list.bad || p.length === 0) return invalid("alpn_extension");
    out.push(p.toString("latin1"));
  }
  return out;
}

/** The SNI and ALPN of the ClientHello at the start of `buf`. */
export function parseClientHello(buf: Buffer): ClientHello {
  const msg = handshakeMessage(buf);
  if (!Buffer.isBuffer(msg)) return msg;
  const r = new Reader(msg.subarray(4));
  r.bytes(2 + 32); // client_version, random
  r.bytes(r.u8()); // session_id
  r.bytes(r.u16()); // cipher_suites
  r.bytes(r.u8()); // compression_methods
  if (r.bad) return invalid("client_hello_body");
  let serverName: string | undefined;
  let alpn: string[] = [];
  if (r.left === 0) return { kind: "ok", serverName, alpn }; // no extensions at all
  const exts = new Reader(r.bytes(r.u16()));
  if (r.bad) return invalid("extensions_length");
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.bytes(exts.u16());
    if (exts.bad) return invalid("extension_length");
    if (type === EXT_SERVER_NAME) {
      const v = parseServerName(data);
      if (typeof v === "object") return v;
      serverName = v;
    } else if (type === EXT_ALPN) {
      const v = parseAlpn(data);
      if (!Array.isArray(v)) return v;
      alpn = v;
    }
  }
  return { kind: "ok", serverName, alpn };
}
