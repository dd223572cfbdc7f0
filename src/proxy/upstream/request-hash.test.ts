import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { CompiledHashPolicy, MatchInput } from "../state/types.ts";
import { appendSetCookies, cookieValue, requestHash, setCookieLine } from "./request-hash.ts";
import { combineHashes, xxhash64 } from "./hash.ts";

function request(o: { headers?: IncomingHttpHeaders; query?: string; remote?: string } = {}): { req: IncomingMessage; input: MatchInput } {
  const socket = { remoteAddress: o.remote ?? "127.0.0.9", remotePort: 40000, localAddress: "127.0.0.1", localPort: 15001 };
  const req = { socket, headers: o.headers ?? {} } as unknown as IncomingMessage;
  const input: MatchInput = { method: "GET", authority: "shop:80", path: "/cart", query: o.query ?? "", headers: o.headers ?? {}, queryParams: undefined };
  return { req, input };
}

const header = (name: string, terminal = false): CompiledHashPolicy => ({ source: { kind: "header", name }, terminal });
const cookie = (ttlSeconds: number | undefined, path = ""): CompiledHashPolicy => ({ source: { kind: "cookie", name: "sticky", path, ttlSeconds }, terminal: false });

test("each key source hashes its value with xxHash64", () => {
  const { req, input } = request({ headers: { "x-user": "alice", cookie: "a=1; sticky=\"s-42\"" }, query: "shard=7&x=1", remote: "127.1.2.3" });
  assert.equal(requestHash([header("x-user")], req, input).hash, xxhash64("alice"));
  assert.equal(requestHash([header(":authority")], req, input).hash, xxhash64("shop:80"));
  assert.equal(requestHash([cookie(undefined)], req, input).hash, xxhash64("s-42"), "quotes around a cookie value are dropped");
  assert.equal(requestHash([{ source: { kind: "source_ip" }, terminal: false }], req, input).hash, xxhash64("127.1.2.3"));
  assert.equal(requestHash([{ source: { kind: "query_parameter", name: "shard" }, terminal: false }], req, input).hash, xxhash64("7"));
});

test("a missing key gives no hash; several policies fold together; a terminal one that hashed ends the list", () => {
  const { req, input } = request({ headers: { "x-a": "1", "x-b": "2" } });
  assert.equal(requestHash([header("x-missing")], req, input).hash, undefined);
  assert.equal(requestHash(undefined, req, input).hash, undefined);
  assert.equal(requestHash([header("x-a"), header("x-b")], req, input).hash, combineHashes(xxhash64("1"), xxhash64("2")));
  assert.equal(requestHash([header("x-missing", true), header("x-a", true), header("x-b")], req, input).hash, xxhash64("1"));
});

test("a cookie policy with a ttl makes the cookie when it is missing, and the request is hashed by it", () => {
  const { req, input } = request();
  const r = requestHash([cookie(3600, "/shop")], req, input);
  assert.equal(r.setCookies.length, 1);
  const m = /^sticky="([0-9a-f]{16})"; Max-Age=3600; Path=\/shop; HttpOnly$/.exec(r.setCookies[0]);
  assert.ok(m, r.setCookies[0]);
  assert.equal(r.hash, xxhash64(m[1]));
  // The client sends it back: the same hash, and no new cookie.
  const back = request({ headers: { cookie: `sticky="${m[1]}"` } });
  const again = requestHash([cookie(3600, "/shop")], back.req, back.input);
  assert.equal(again.hash, r.hash);
  assert.deepEqual(again.setCookies, []);
  // The same connection gets the same cookie; ttl 0 makes a session cookie; no ttl, no cookie.
  assert.deepEqual(requestHash([cookie(3600, "/shop")], req, input).setCookies, r.setCookies);
  assert.match(requestHash([cookie(0)], req, input).setCookies[0], /^sticky="[0-9a-f]{16}"; HttpOnly$/);
  assert.deepEqual(requestHash([cookie(undefined)], req, input), { hash: undefined, setCookies: [] });
});

test("cookie parsing and Set-Cookie lines", () => {
  assert.equal(cookieValue("a=1; b=2;c=3", "c"), "3");
  assert.equal(cookieValue("ab=1", "b"), undefined);
  assert.equal(cookieValue("b=", "b"), undefined, "an empty value is no key");
  assert.equal(cookieValue(undefined, "b"), undefined);
  assert.equal(setCookieLine("s", "v", "", 10), 's="v"; Max-Age=10; HttpOnly');
  const headers: Record<string, unknown> = { "set-cookie": ["app=1"] };
  appendSetCookies(headers, ['s="v"; HttpOnly']);
  assert.deepEqual(headers["set-cookie"], ["app=1", 's="v"; HttpOnly']);
  const none: Record<string, unknown> = {};
  appendSetCookies(none, []);
  assert.deepEqual(none, {});
});
