// A request's hash from its route's hash_policy, Envoy's way: each policy that finds its key
// (a header, a cookie, the client's IP, a query parameter) contributes xxHash64(key); several
// are folded together in order, and a terminal policy that produced a hash ends the list. No
// key at all means no hash (the balancer then picks at random, as Envoy's does).
//
// A cookie policy with a ttl makes the cookie when the request lacks it: the value is
// xxHash64 of the connection's two addresses in hex (so concurrent requests on one connection
// agree), the request is hashed by it, and the caller adds the Set-Cookie line to the
// response: name="value"; Max-Age=ttl (left out for a session cookie, ttl 0); Path=path; HttpOnly.
import type { IncomingMessage } from "node:http";
import type { CompiledHashPolicy, HashSource, MatchInput } from "../state/types.ts";
import { combineHashes, xxhash64 } from "./hash.ts";

export interface RequestHash {
  /** undefined when no policy found its key. */
  hash: bigint | undefined;
  /** Set-Cookie values for cookies the proxy made; empty when none. */
  setCookies: string[];
}

const NO_HASH: RequestHash = Object.freeze({ hash: undefined, setCookies: [] as string[] }) as RequestHash;

export function requestHash(policies: readonly CompiledHashPolicy[] | undefined, req: IncomingMessage, input: MatchInput): RequestHash {
  if (!policies || policies.length === 0) return NO_HASH;
  let hash: bigint | undefined;
  let setCookies: string[] | undefined;
  for (const p of policies) {
    let key = keyOf(p.source, req, input);
    if (key === undefined && p.source.kind === "cookie" && p.source.ttlSeconds !== undefined) {
      key = generatedCookieValue(req);
      (setCookies ??= []).push(setCookieLine(p.source.name, key, p.source.path, p.source.ttlSeconds));
    }
    if (key !== undefined) hash = combineHashes(hash, xxhash64(key));
    if (p.terminal && hash !== undefined) break;
  }
  if (hash === undefined && !setCookies) return NO_HASH;
  return { hash, setCookies: setCookies ?? [] };
}

function keyOf(source: HashSource, req: IncomingMessage, input: MatchInput): string | undefined {
  switch (source.kind) {
    case "header":
      return headerValue(input, source.name);
    case "cookie":
      return cookieValue(input.headers.cookie, source.name);
    case "source_ip":
      return req.socket?.remoteAddress || undefined;
    case "query_parameter": {
      if (!input.query) return undefined;
      if (input.queryParams === undefined) input.queryParams = new URLSearchParams(input.query);
      return input.queryParams.get(source.name) ?? undefined;
    }
  }
}

function headerValue(input: MatchInput, name: string): string | undefined {
  switch (name) {
    case ":authority": return input.authority || undefined;
    case ":path": return input.query ? `${input.path}?${input.query}` : input.path;
    case ":method": return input.method;
    default: {
      const v = input.headers[name];
      if (v === undefined || v === "") return undefined;
      return Array.isArray(v) ? [...v].sort().join("") : v;
    }
  }
}

/** The value of cookie `name` in a Cookie header (surrounding quotes dropped, as Envoy does); undefined when absent or empty. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v === "" ? undefined : v;
  }
  return undefined;
}

function generatedCookieValue(req: IncomingMessage): string {
  const s = req.socket;
  const peer = `${s?.remoteAddress ?? ""}:${s?.remotePort ?? ""}${s?.localAddress ?? ""}:${s?.localPort ?? ""}`;
  return xxhash64(peer).toString(16).padStart(16, "0");
}

/** Envoy's Set-Cookie for a generated hash cookie. */
export function setCookieLine(name: string, value: string, path: string, ttlSeconds: number): string {
  let line = `${name}="${value}"`;
  if (ttlSeconds > 0) line += `; Max-Age=${ttlSeconds}`;
  if (path) line += `; Path=${path}`;
  return `${line}; HttpOnly`;
}

/** Adds the proxy's Set-Cookie lines to a response's headers, after the upstream's own. */
export function appendSetCookies(headers: Record<string, unknown>, lines: readonly string[]): void {
  if (lines.length === 0) return;
  const cur = headers["set-cookie"];
  const existing = Array.isArray(cur) ? (cur as string[]) : typeof cur === "string" ? [cur] : [];
  headers["set-cookie"] = [...existing, ...lines];
}
