// Listener filters that look at a connection's first bytes before a filter chain is chosen,
// as Envoy's tls_inspector (transport "tls" or "raw_buffer", the SNI) and http_inspector
// ("http/1.1" or "h2c") do. The wait is bounded by listener_filters_timeout: a server-first
// protocol (MySQL, SMTP banners) sends nothing, and with continue_on_listener_filters_timeout
// the connection goes on as raw bytes of no known application protocol. The bytes read are
// handed back (unshift) so whatever serves the chain sees the stream from its start.
import type { Duplex } from "node:stream";
import { parseClientHello } from "./sni.ts";

export interface InspectOptions {
  /** tls_inspector: read a ClientHello for its SNI. */
  tls: boolean;
  /** http_inspector: say whether the bytes are HTTP/1.x or HTTP/2 with prior knowledge. */
  http: boolean;
  /** 0: no limit (the connection may wait for its first byte forever). */
  timeoutMs: number;
}

export interface Inspection {
  transport: "tls" | "raw_buffer";
  serverName: string | undefined;
  applicationProtocol: "http/1.1" | "h2c" | undefined;
  /** The wait ended before the inspectors had their answer. */
  timedOut: boolean;
}

/** What the first bytes say about HTTP: yes (and which), no, or read more. */
export type HttpVerdict = "http/1.1" | "h2c" | "no" | "more";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** Envoy's http_inspector gives up on a request line longer than this. */
const MAX_REQUEST_LINE = 8 * 1024;
const TLS_RECORD = 0x16;

function isTokenChar(c: number): boolean {
  // RFC 9110 tchar
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/** Envoy's http_inspector: an HTTP/1.x request line or the HTTP/2 preface. */
export function httpVerdict(b: Buffer): HttpVerdict {
  if (b.length === 0) return "more";
  const n = Math.min(b.length, H2_PREFACE.length);
  if (b.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? "h2c" : "more";
  // METHOD SP request-target SP HTTP/1.x CRLF
  let i = 0;
  while (i < b.length && isTokenChar(b[i]!)) i++;
  if (i === b.length) return i > 32 ? "no" : "more";
  if (i === 0 || b[i] !== 0x20) return "no";
  const eol = b.indexOf("\r\n", i);
  if (eol < 0) {
    // The target holds no control characters; a line too long is not what a client sends.
    for (let j = i + 1; j < b.length; j++) if (b[j]! < 0x20 && b[j] !== 0x0d) return "no";
    return b.length > MAX_REQUEST_LINE ? "no" : "more";
  }
  const line = b.subarray(i + 1, eol).toString("latin1");
  return /^\S+ HTTP\/1\.[01]$/.test(line) ? "http/1.1" : "no";
}

type TlsVerdict = { done: false } | { done: true; tls: boolean; serverName: string | undefined };

function tlsVerdict(b: Buffer): TlsVerdict {
  if (b.length === 0) return { done: false };
  if (b[0] !== TLS_RECORD) return { done: true, tls: false, serverName: undefined };
  const hello = parseClientHello(b);
  if (hello.kind === "incomplete") return { done: false };
  // As Envoy: bytes that do not parse as a ClientHello are not TLS.
  if (hello.kind !== "ok") return { done: true, tls: false, serverName: undefined };
  return { done: true, tls: true, serverName: hello.serverName };
}

/** The verdict on the bytes so far; undefined while the inspectors want more. */
export function inspectBytes(b: Buffer, opts: Pick<InspectOptions, "tls" | "http">, final: boolean): Inspection | undefined {
  let transport: Inspection["transport"] = "raw_buffer";
  let serverName: string | undefined;
  if (opts.tls) {
    const t = tlsVerdict(b);
    if (!t.done && !final) return undefined;
    if (t.done && t.tls) {
      transport = "tls";
      serverName = t.serverName;
    }
  }
  let applicationProtocol: Inspection["applicationProtocol"];
  // http_inspector looks at plaintext only.
  if (opts.http && transport === "raw_buffer") {
    const h = httpVerdict(b);
    if (h === "more" && !final) return undefined;
    if (h === "http/1.1" || h === "h2c") applicationProtocol = h;
  }
  return { transport, serverName, applicationProtocol, timedOut: false };
}

/**
 * Reads from `socket` (starting with `initial`) until the inspectors decide, the peer stops
 * sending (FIN), or the timeout passes. Calls `done` once: with the inspection, or with
 * undefined when the connection is gone or timed out without continue-on-timeout. On a
 * verdict the socket is paused with every byte read pushed back.
 */
export function inspectConnection(socket: Duplex, initial: Buffer, opts: InspectOptions & { continueOnTimeout: boolean }, done: (r: Inspection | undefined, reason?: string) => void): void {
  let buf = initial;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (r: Inspection | undefined, reason?: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onClose);
    socket.off("error", onError);
    if (r) {
      socket.pause();
      if (buf.length > 0) socket.unshift(buf);
    }
    done(r, reason);
  };
  const decideNow = (final: boolean): boolean => {
    const r = inspectBytes(buf, opts, final);
    if (!r) return false;
    finish(r);
    return true;
  };
  const onData = (c: Buffer): void => {
    buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
    decideNow(false);
  };
  const onEnd = (): void => {
    if (buf.length === 0) finish(undefined, "closed_before_first_byte");
    else decideNow(true);
  };
  const onClose = (): void => finish(undefined, "closed_before_first_byte");
  const onError = (): void => finish(undefined, "downstream_reset");
  // Nothing to learn from the bytes (a TCP-only listener): go on at once, server-first or not.
  if (!opts.tls && !opts.http) {
    finish(inspectBytes(buf, opts, true));
    return;
  }
  if (buf.length > 0 && decideNow(false)) return;
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.once("close", onClose);
  socket.once("error", onError);
  if (opts.timeoutMs > 0) {
    timer = setTimeout(() => {
      if (!opts.continueOnTimeout) {
        finish(undefined, "listener_filters_timeout");
        return;
      }
      const r = inspectBytes(buf, opts, true)!;
      finish({ ...r, timedOut: true });
    }, opts.timeoutMs);
  }
  socket.resume();
}
