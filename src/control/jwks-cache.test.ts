import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { JwksCache, normalizeJwks, type JwksCacheOptions } from "./jwks-cache.ts";

const KEYS_A = { keys: [{ kty: "RSA", kid: "a", e: "AQAB", n: "AAAA" }] };
const KEYS_B = { keys: [{ kty: "EC", kid: "b", crv: "P-256", x: "AA", y: "AA" }] };

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A JWKS server on 127.0.0.1 whose answer the test swaps; `hits` counts requests per path. */
async function jwksServer(initial: Handler): Promise<{ url: string; set(h: Handler): void; hits: Map<string, number>; requests: EventTarget; close(): Promise<void> }> {
  let handler = initial;
  const hits = new Map<string, number>();
  const requests = new EventTarget();
  const server: Server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    handler(req, res);
    requests.dispatchEvent(new Event("request"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    set: (h) => { handler = h; },
    hits,
    requests,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())); },
  };
}

const json = (body: unknown, status = 200): Handler => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};

/** A cache whose onChange calls resolve `changed()` promises one after another. */
function cacheWith(opts: Partial<JwksCacheOptions> = {}) {
  const waiters: (() => void)[] = [];
  let pending = 0;
  const cache = new JwksCache({
    onChange: () => {
      const w = waiters.shift();
      if (w) w(); else pending++;
    },
    ...opts,
  });
  const changed = () => new Promise<void>((resolve) => {
    if (pending > 0) { pending--; resolve(); } else waiters.push(resolve);
  });
  return { cache, changed };
}

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const log = (level: string) => (_obj: unknown, msg: string) => { lines.push({ level, msg }); };
  return { lines, logger: { warn: log("warn"), info: log("info"), error: log("error") } as unknown as Logger };
}

test("first get starts the fetch; the keys arrive with onChange, compact and validated", async (t) => {
  const srv = await jwksServer(json({ ...KEYS_A, extra: "dropped" }));
  t.after(() => srv.close());
  const { cache, changed } = cacheWith();
  t.after(() => cache.close());
  assert.equal(cache.get(`${srv.url}/jwks`), undefined);
  await changed();
  assert.deepEqual(cache.get(`${srv.url}/jwks`), { jwks: JSON.stringify(KEYS_A) });
  assert.equal(srv.hits.get("/jwks"), 1);
  assert.equal(cache.get(`${srv.url}/jwks`), cache.get(`${srv.url}/jwks`), "answered from memory, same object");
  assert.deepEqual(cache.status().map((s) => s.state), ["ok"]);
});

test("answers that are not a JWKS, error statuses and oversized bodies are failures", async (t) => {
  const srv = await jwksServer((req, res) => {
    if (req.url === "/html") return json("<html>login</html>")(req, res);
    if (req.url === "/empty") return json({ keys: [] })(req, res);
    if (req.url === "/nokty") return json({ keys: [{ n: "x" }] })(req, res);
    if (req.url === "/500") return json({ error: "boom" }, 500)(req, res);
    if (req.url === "/big") {
      res.writeHead(200);
      res.write("x".repeat(600));
      return res.end("x".repeat(600));
    }
    res.writeHead(404).end();
  });
  t.after(() => srv.close());
  const { cache, changed } = cacheWith({ maxBytes: 1000 });
  t.after(() => cache.close());
  const cases: [string, RegExp][] = [
    ["/html", /not JSON/], ["/empty", /no keys/], ["/nokty", /no "kty"/], ["/500", /HTTP 500/], ["/big", /over the 1000-byte limit/],
  ];
  for (const [path, reason] of cases) {
    cache.get(srv.url + path);
    await changed();
    const answer = cache.get(srv.url + path);
    assert.ok(answer && "error" in answer, path);
    assert.match(answer.error, reason, path);
  }
});

test("non-http URIs and a fetch that throws are failures, never exceptions", async (t) => {
  let called = 0;
  const { cache, changed } = cacheWith({ fetch: (() => { called++; throw new Error("synchronous boom"); }) as unknown as typeof fetch });
  t.after(() => cache.close());
  cache.get("file:///etc/passwd");
  await changed();
  assert.match((cache.get("file:///etc/passwd") as { error: string }).error, /not an http or https URL/);
  assert.equal(called, 0);
  cache.get("https://idp.example.com/jwks");
  await changed();
  assert.match((cache.get("https://idp.example.com/jwks") as { error: string }).error, /synchronous boom/);
});

test("a refresh picks up new keys; a failing refresh keeps the last good keys and warns once", async (t) => {
  const srv = await jwksServer(json(KEYS_A));
  t.after(() => srv.close());
  const { lines, logger } = recordingLogger();
  const { cache, changed } = cacheWith({ refreshMs: 20, retryMs: 5, logger });
  t.after(() => cache.close());
  const uri = `${srv.url}/jwks`;
  cache.get(uri);
  await changed();
  srv.set(json(KEYS_B));
  await changed();
  assert.deepEqual(cache.get(uri), { jwks: JSON.stringify(KEYS_B) });
  srv.set(json("down", 503));
  const before = srv.hits.get("/jwks")!;
  while (srv.hits.get("/jwks")! < before + 3) await once(srv.requests, "request");
  assert.deepEqual(cache.get(uri), { jwks: JSON.stringify(KEYS_B) }, "still the last good keys");
  assert.equal(lines.filter((l) => l.level === "warn").length, 1);
  assert.match(lines[0]!.msg, /keeping the last good keys/);
  assert.equal(cache.status()[0]!.state, "failing");
  srv.set(json(KEYS_A));
  await changed();
  assert.deepEqual(cache.get(uri), { jwks: JSON.stringify(KEYS_A) });
  assert.ok(lines.some((l) => l.level === "info" && /recovered/.test(l.msg)));
});

test("OpenID discovery: the document's jwks_uri is fetched", async (t) => {
  const srv = await jwksServer((req, res) => {
    if (req.url === "/realm/.well-known/openid-configuration") return json({ issuer: `${srv.url}/realm`, jwks_uri: `${srv.url}/realm/certs` })(req, res);
    if (req.url === "/realm/certs") return json(KEYS_A)(req, res);
    if (req.url === "/bad/.well-known/openid-configuration") return json({ issuer: "x" })(req, res);
    res.writeHead(404).end();
  });
  t.after(() => srv.close());
  const { cache, changed } = cacheWith();
  t.after(() => cache.close());
  cache.get(`${srv.url}/realm/.well-known/openid-configuration`);
  await changed();
  assert.deepEqual(cache.get(`${srv.url}/realm/.well-known/openid-configuration`), { jwks: JSON.stringify(KEYS_A) });
  cache.get(`${srv.url}/bad/.well-known/openid-configuration`);
  await changed();
  assert.match((cache.get(`${srv.url}/bad/.well-known/openid-configuration`) as { error: string }).error, /has no jwks_uri/);
});

test("a server that never answers times out", async (t) => {
  const srv = await jwksServer(() => {});
  t.after(() => srv.close());
  const { cache, changed } = cacheWith({ timeoutMs: 50 });
  t.after(() => cache.close());
  cache.get(`${srv.url}/slow`);
  await changed();
  assert.match((cache.get(`${srv.url}/slow`) as { error: string }).error, /timed out after 50 ms/);
});

test("prune forgets URIs no rule uses; close answers errors and stops everything", async (t) => {
  const srv = await jwksServer(json(KEYS_A));
  t.after(() => srv.close());
  const { cache, changed } = cacheWith();
  cache.get(`${srv.url}/a`);
  cache.get(`${srv.url}/b`);
  await changed();
  await changed();
  cache.prune(new Set([`${srv.url}/a`]));
  assert.deepEqual(cache.status().map((s) => s.uri), [`${srv.url}/a`]);
  assert.equal(cache.get(`${srv.url}/b`), undefined, "fetched again from scratch when used again");
  cache.close();
  assert.deepEqual(cache.status(), []);
  assert.match((cache.get(`${srv.url}/a`) as { error: string }).error, /closed/);
});

test("normalizeJwks keeps only the key list", () => {
  assert.equal(normalizeJwks(JSON.stringify({ keys: KEYS_A.keys, cache: 1 })), JSON.stringify(KEYS_A));
  assert.throws(() => normalizeJwks("[]"), /no "keys" list/);
});
