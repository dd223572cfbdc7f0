import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { percentile, runConstantRate, summarise } from "./constant-rate.ts";

test("percentile is nearest-rank; summarise gives p50..max and the mean", () => {
  const v = Float64Array.from([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
  const s = summarise(v);
  assert.equal(s.p50Ms, 5);
  assert.equal(s.p90Ms, 9);
  assert.equal(s.p99Ms, 10);
  assert.equal(s.maxMs, 10);
  assert.equal(s.meanMs, 5.5);
  assert.equal(percentile(Float64Array.from([7]), 99), 7);
  assert.ok(Number.isNaN(summarise(new Float64Array(0)).p50Ms));
});

async function withServer(handler: (req: IncomingMessage, n: number) => { status: number; body: string }, fn: (port: number, seen: IncomingMessage[]) => Promise<void>): Promise<void> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    const { status, body } = handler(req, seen.length);
    res.writeHead(status, { "content-type": "text/plain" }); // no length: Node sends it chunked
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await fn((server.address() as AddressInfo).port, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test("sends exactly rate x duration requests on the given connections, keep-alive, with the proxy target", async () => {
  await withServer(() => ({ status: 200, body: "ok" }), async (port, seen) => {
    const r = await runConstantRate({ host: "127.0.0.1", port, target: "http://svc:8080/x", hostHeader: "svc:8080", connections: 3, rate: 200, durationS: 0.5 });
    assert.equal(r.scheduled, 100);
    assert.equal(r.completed, 100);
    assert.equal(r.non2xx, 0);
    assert.deepEqual(r.errors, { connect: 0, read: 0, timeout: 0 });
    assert.equal(r.connectionsOpened, 3);
    assert.equal(seen.length, 100);
    assert.equal(seen[0]!.url, "http://svc:8080/x");
    assert.equal(seen[0]!.headers.host, "svc:8080");
    assert.ok(new Set(seen.map((q) => q.socket)).size <= 3, "at most one socket per connection");
    // Corrected latency counts from the due time, which is never after the write.
    assert.ok(r.corrected.p50Ms >= r.service.p50Ms && r.corrected.maxMs >= r.service.maxMs);
    assert.ok(r.service.p50Ms > 0 && r.service.p50Ms <= r.service.p99Ms && r.service.p99Ms <= r.service.maxMs);
  });
});

test("non-2xx answers and connections the server closes are counted, and the run still ends", async () => {
  await withServer((_req, n) => ({ status: n % 10 === 0 ? 503 : 200, body: "x" }), async (port, seen) => {
    const r = await runConstantRate({ host: "127.0.0.1", port, target: "/", hostHeader: "h", connections: 2, rate: 100, durationS: 0.3 });
    assert.equal(r.completed + r.errors.read + r.errors.timeout, r.scheduled);
    assert.equal(r.non2xx, seen.filter((_q, i) => (i + 1) % 10 === 0).length);
  });
  // A server that closes every connection after its answer: each request needs a new connection.
  const server = createServer((_req, res) => {
    res.writeHead(200, { connection: "close", "content-length": 2 });
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const r = await runConstantRate({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, target: "/", hostHeader: "h", connections: 2, rate: 50, durationS: 0.2 });
    assert.equal(r.completed, r.scheduled);
    assert.ok(r.connectionsOpened > r.scheduled, "a replacement connection after every answer");
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("a port nobody listens on is an error, not a hang", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(runConstantRate({ host: "127.0.0.1", port, target: "/", hostHeader: "h", connections: 2, rate: 10, durationS: 0.1 }), /cannot connect/);
});
