// The lean client's pool and tries against real loopback servers: reuse, Connection: close,
// idle timeout, max requests per connection, the max-connections queue, and how failures are
// classified.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { once } from "node:events";
import { Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import type { EndpointAddress } from "../../state/types.ts";
import { H1Pool } from "./pool.ts";
import { LeanAttempt } from "./lean-attempt.ts";

type Outcome = { status: number; body: string; headers: IncomingMessage["headers"]; trailers: IncomingMessage["headers"] } | { failure: string; detail: string };

function endpoint(port: number): EndpointAddress {
  return { host: "127.0.0.1", port, key: `127.0.0.1:${port}`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined } as EndpointAddress;
}

function send(pool: H1Pool, port: number, o: { method?: string; path?: string; body?: Buffer | Readable; maxRequestsPerConnection?: number; headers?: Record<string, string> } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    new LeanAttempt({
      endpoint: endpoint(port), method: o.method ?? "GET", path: o.path ?? "/", headers: { host: "upstream", ...o.headers }, pool, tls: false,
      connectTimeoutMs: 5000, body: o.body, maxRequestsPerConnection: o.maxRequestsPerConnection ?? 0,
    }, {
      onResponse: (res) => {
        let body = "";
        let trailers: IncomingMessage["headers"] = {};
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("trailers", (t: IncomingMessage["headers"]) => (trailers = t));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, trailers }));
        res.on("error", (e) => resolve({ failure: "body", detail: e.message }));
      },
      onFailure: (kind, detail) => resolve({ failure: kind, detail }),
    });
  });
}

/** An HTTP server that records each request's connection (by remote port) and headers. */
async function recordingServer(handler: (req: IncomingMessage, res: http.ServerResponse) => void = (_q, s) => s.end("ok")) {
  const seen: { port: number; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ port: req.socket.remotePort ?? 0, headers: req.headers, body });
      handler(req, res);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, seen, port: (server.address() as net.AddressInfo).port };
}

/** A raw TCP server that answers every connection with `reply` (then maybe closes). */
async function rawServer(reply: string, close = false) {
  const server = net.createServer((s) => {
    s.once("data", () => {
      s.write(reply);
      if (close) s.end();
    });
    s.on("error", () => {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port };
}

test("sequential requests reuse one keep-alive connection", async () => {
  const { server, seen, port } = await recordingServer();
  const pool = new H1Pool();
  for (let i = 0; i < 5; i++) assert.deepEqual(pick(await send(pool, port)), { status: 200, body: "ok" });
  assert.equal(new Set(seen.map((s) => s.port)).size, 1);
  assert.equal(seen[0].headers.connection, "keep-alive");
  assert.equal(pool.size, 1);
  pool.destroyAll();
  server.close();
});

test("a response with Connection: close is not reused", async () => {
  const { server, seen, port } = await recordingServer((_q, s) => {
    s.setHeader("connection", "close");
    s.end("bye");
  });
  const pool = new H1Pool();
  for (let i = 0; i < 3; i++) assert.deepEqual(pick(await send(pool, port)), { status: 200, body: "bye" });
  assert.equal(new Set(seen.map((s) => s.port)).size, 3);
  pool.destroyAll();
  server.close();
});

test("an idle connection closes after the idle timeout", async () => {
  const { server, port } = await recordingServer();
  const closed = new Promise<void>((resolve) => server.on("connection", (s) => s.on("close", () => resolve())));
  const pool = new H1Pool();
  pool.idleTimeoutMs = 30;
  assert.deepEqual(pick(await send(pool, port)), { status: 200, body: "ok" });
  await closed;
  while (pool.size > 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(pool.connections(`127.0.0.1:${port}`), 0);
  server.close();
});

test("max requests per connection closes the connection after its last request", async () => {
  const { server, seen, port } = await recordingServer();
  const pool = new H1Pool();
  for (let i = 0; i < 4; i++) assert.deepEqual(pick(await send(pool, port, { maxRequestsPerConnection: 2 })), { status: 200, body: "ok" });
  const ports = seen.map((s) => s.port);
  assert.equal(ports[0], ports[1]);
  assert.equal(ports[2], ports[3]);
  assert.notEqual(ports[1], ports[2]);
  assert.deepEqual(seen.map((s) => s.headers.connection), ["keep-alive", "close", "keep-alive", "close"]);
  pool.destroyAll();
  server.close();
});

test("at max connections requests wait and reuse the connection in order", async () => {
  const { server, seen, port } = await recordingServer((q, s) => s.end(q.url));
  const pool = new H1Pool();
  pool.maxSockets = 1;
  const results = await Promise.all([1, 2, 3].map((i) => send(pool, port, { path: `/${i}` })));
  assert.deepEqual(results.map(pick), [1, 2, 3].map((i) => ({ status: 200, body: `/${i}` })));
  assert.equal(new Set(seen.map((s) => s.port)).size, 1);
  pool.destroyAll();
  server.close();
});

test("request bodies: a buffer goes with its length, a stream of unknown length goes chunked", async () => {
  const { server, seen, port } = await recordingServer();
  const pool = new H1Pool();
  await send(pool, port, { method: "POST", body: Buffer.from("buffered") });
  await send(pool, port, { method: "POST", body: Readable.from([Buffer.from("str"), Buffer.from(""), Buffer.from("eamed")]) });
  await send(pool, port, { method: "POST" });
  assert.deepEqual(seen.map((s) => [s.body, s.headers["content-length"], s.headers["transfer-encoding"]]), [
    ["buffered", "8", undefined], ["streamed", undefined, "chunked"], ["", "0", undefined],
  ]);
  assert.equal(new Set(seen.map((s) => s.port)).size, 1);
  pool.destroyAll();
  server.close();
});

test("chunked responses deliver their trailers", async () => {
  const { server, port } = await recordingServer((_q, s) => {
    s.addTrailers({ "grpc-status": "0" });
    s.write("a");
    s.end("b");
  });
  const pool = new H1Pool();
  const r = await send(pool, port);
  assert.ok("status" in r);
  assert.equal(r.body, "ab");
  assert.equal(r.trailers["grpc-status"], "0");
  pool.destroyAll();
  server.close();
});

test("failures: refused is a connect failure; bad framing and a hang-up are resets with a reason", async () => {
  const pool = new H1Pool();
  const closedPort = await freePort();
  const refused = await send(pool, closedPort);
  assert.deepEqual(refused, { failure: "connect-failure", detail: "ECONNREFUSED" });
  const bad = await rawServer("HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
  const r1 = await send(pool, bad.port);
  assert.ok("failure" in r1 && r1.failure === "reset" && /^protocol_error:invalid Content-Length/.test(r1.detail), JSON.stringify(r1));
  const big = await rawServer(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70 * 1024)}\r\n\r\n`);
  const r2 = await send(pool, big.port);
  assert.ok("failure" in r2 && r2.failure === "reset" && /head over 65536 bytes/.test(r2.detail), JSON.stringify(r2));
  const hangUp = await rawServer("", true);
  assert.deepEqual(await send(pool, hangUp.port), { failure: "reset", detail: "ECONNRESET" });
  const cut = await rawServer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
  const r3 = await send(pool, cut.port);
  assert.ok("failure" in r3 && r3.failure === "body" && /response body/.test(r3.detail), JSON.stringify(r3));
  assert.equal(pool.size, 0, "no failed connection stays in the pool");
  for (const s of [bad, big, hangUp, cut]) s.server.close();
});

test("an invalid header value fails the try without writing and keeps the connection", async () => {
  const { server, seen, port } = await recordingServer();
  const pool = new H1Pool();
  await send(pool, port);
  const r = await send(pool, port, { headers: { "x-bad": "a\r\nInjected: yes" } });
  assert.ok("failure" in r && r.failure === "reset" && /^invalid_request:/.test(r.detail), JSON.stringify(r));
  await send(pool, port);
  assert.equal(seen.length, 2);
  assert.equal(new Set(seen.map((s) => s.port)).size, 1);
  pool.destroyAll();
  server.close();
});

test("a TLS handshake that never completes fails as a connect failure on the connect timeout", async () => {
  // Accepts TCP and never answers the ClientHello.
  const silent = net.createServer((s) => s.on("error", () => {}));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const port = (silent.address() as net.AddressInfo).port;
  const pool = new H1Pool({ tls: { rejectUnauthorized: false } });
  const r = await new Promise<Outcome>((resolve) => {
    new LeanAttempt({ endpoint: endpoint(port), method: "GET", path: "/", headers: { host: "x" }, pool, tls: true, connectTimeoutMs: 50, body: undefined }, {
      onResponse: () => resolve({ failure: "unexpected", detail: "answered" }),
      onFailure: (kind, detail) => resolve({ failure: kind, detail }),
    });
  });
  assert.deepEqual(r, { failure: "connect-failure", detail: "TLS_error:ETIMEDOUT:connect timeout" });
  pool.destroyAll();
  silent.close();
});

test("abort: no handler runs afterwards, the connection is not reused, a queued try leaves the queue", async () => {
  let hold: (() => void) | undefined;
  const { server, seen, port } = await recordingServer((_q, s) => {
    if (!hold) hold = () => s.end("late");
    else s.end("ok");
  });
  const pool = new H1Pool();
  pool.maxSockets = 1;
  const calls: string[] = [];
  const handlers = { onResponse: () => calls.push("response"), onFailure: () => calls.push("failure") };
  const first = new LeanAttempt({ endpoint: endpoint(port), method: "GET", path: "/slow", headers: { host: "x" }, pool, tls: false, connectTimeoutMs: 5000, body: undefined }, handlers);
  const queued = new LeanAttempt({ endpoint: endpoint(port), method: "GET", path: "/queued", headers: { host: "x" }, pool, tls: false, connectTimeoutMs: 5000, body: undefined }, handlers);
  queued.abort();
  while (!hold) await new Promise((r) => setTimeout(r, 5));
  first.abort();
  hold();
  while (pool.size > 0) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(pick(await send(pool, port)), { status: 200, body: "ok" });
  assert.deepEqual(calls, []);
  assert.equal(seen.length, 2, "the slow request and the last one; the aborted queued try was never sent");
  assert.equal(new Set(seen.map((s) => s.port)).size, 2, "the aborted connection was not reused");
  pool.destroyAll();
  server.close();
});

function pick(o: Outcome): unknown {
  return "status" in o ? { status: o.status, body: o.body } : o;
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, "close");
  return port;
}
