// The request line and headers of one upstream request as one latin1 string (Node writes header
// bytes as latin1 too), checked as ClientRequest checks them: a name must be a token, a value
// and the path must not carry CR, LF or NUL (header injection).
import type { OutgoingHttpHeaders } from "node:http";
import { HTTP_TOKEN } from "../../http/http-token.ts";

const BAD_VALUE = /[\r\n\0]/;
const BAD_PATH = /[^\u0021-\u00ff]/;

export class RequestHeadError extends Error {}

export interface RequestHeadInput {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** How the body is framed: none, a known length, or chunks (a stream of unknown length). */
  framing: "none" | "length" | "chunked";
  /** Length to announce when framing is "length" and the headers carry none. */
  bodyLength: number;
  /** Ask the upstream to close the connection after this response. */
  close: boolean;
}

/** Methods Node sends without a Content-Length when they have no body. */
const NO_BODY_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/** Serialises the head; throws RequestHeadError for a name, value or path that cannot be sent. */
export function requestHead(r: RequestHeadInput): string {
  if (!HTTP_TOKEN.test(r.method)) throw new RequestHeadError(`invalid method "${r.method.slice(0, 30)}"`);
  if (BAD_PATH.test(r.path)) throw new RequestHeadError("invalid character in the request path");
  let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
  let hasLength = false;
  let hasConnection = false;
  const h = r.headers;
  for (const name in h) {
    const v = h[name];
    if (v === undefined) continue;
    if (!HTTP_TOKEN.test(name)) throw new RequestHeadError(`invalid header name "${name.slice(0, 60)}"`);
    const lower = name.length === 14 || name.length === 17 || name.length === 10 ? name.toLowerCase() : "";
    if (lower === "content-length") {
      if (r.framing === "chunked") continue; // a stream without a length goes chunked (LeanAttempt.onReady)
      hasLength = true;
    } else if (lower === "transfer-encoding") continue; // we frame the body ourselves
    else if (lower === "connection") {
      if (r.close) continue;
      hasConnection = true;
    }
    if (Array.isArray(v)) {
      for (const one of v) head += headerLine(name, String(one));
    } else head += headerLine(name, typeof v === "string" ? v : String(v));
  }
  if (r.framing === "chunked") head += "transfer-encoding: chunked\r\n";
  else if (!hasLength && (r.framing === "length" ? true : !NO_BODY_METHODS.has(r.method))) head += `content-length: ${r.framing === "length" ? r.bodyLength : 0}\r\n`;
  if (r.close) head += "connection: close\r\n";
  else if (!hasConnection) head += "connection: keep-alive\r\n";
  return head + "\r\n";
}

function headerLine(name: string, value: string): string {
  if (BAD_VALUE.test(value)) throw new RequestHeadError(`invalid character in header "${name}"`);
  return `${name}: ${value}\r\n`;
}
