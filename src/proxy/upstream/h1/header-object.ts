// Header lines into the object IncomingMessage.headers gives: lower-cased names, and Node's
// rules for repeated names (set-cookie a list, cookie joined with "; ", single-valued fields keep
// the first, every other name joined with ", ").
import type { IncomingHttpHeaders } from "node:http";
import { HTTP_TOKEN } from "../../http/http-token.ts";

/** Fields where Node keeps the first value and drops repeats. */
const FIRST_WINS = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host", "if-modified-since",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after",
  "server", "user-agent",
]);


export class HeaderError extends Error {}

/** A fresh header object without a prototype, so a "__proto__" header is just a header. */
export function emptyHeaders(): IncomingHttpHeaders {
  return Object.create(null) as IncomingHttpHeaders;
}

/** Adds one field; `name` is already lower-case. */
export function addHeader(into: IncomingHttpHeaders, name: string, value: string): void {
  const h = into as Record<string, string | string[] | undefined>;
  const cur = h[name];
  if (name === "set-cookie") {
    if (cur === undefined) h[name] = [value];
    else (cur as string[]).push(value);
    return;
  }
  if (cur === undefined) h[name] = value;
  else if (FIRST_WINS.has(name)) return;
  else h[name] = `${cur as string}${name === "cookie" ? "; " : ", "}${value}`;
}

/**
 * Parses header lines (no CRLF) from `lines[from]` on into `into` and `raw` (name, value pairs
 * as sent). Throws HeaderError for a line that is not `token: value` or uses obsolete folding.
 */
export function parseHeaderLines(lines: readonly string[], from: number, into: IncomingHttpHeaders, raw: string[]): void {
  for (let i = from; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) {
      const c = line.charCodeAt(0);
      throw new HeaderError(c === 32 || c === 9 ? "obsolete header line folding" : `malformed header line "${line.slice(0, 60)}"`);
    }
    const name = line.slice(0, colon);
    if (!HTTP_TOKEN.test(name)) throw new HeaderError(`invalid header name "${name.slice(0, 60)}"`);
    const value = trimOws(line, colon + 1);
    raw.push(name, value);
    addHeader(into, name.toLowerCase(), value);
  }
}

/** The value between optional whitespace (space and tab only, as RFC 9110 says; trim() would take more). */
function trimOws(line: string, start: number): string {
  let a = start;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
  return line.slice(a, b);
}
