import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Cluster } from "../../xds/envoy-types.ts";
import { cla, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Reply } from "../test-kit.ts";
import { statsText } from "../admin/admin-server.ts";
import { clustersText } from "../admin/clusters-view.ts";
import { silentLogger } from "../../log/logger.ts";
import type { DataPlane } from "../main.ts";

const opened: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of opened.reverse()) await o.close();
});
const T = { timeout: 15_000 };

/** An upstream that holds every request until release() and says when n have arrived. */
async function holdingUpstream() {
  const held: ServerResponse[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  const up = await startUpstream("held", (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
    for (const w of waiters) if (held.length >= w.n) w.resolve();
  });
  opened.push(up);
  return {
    port: up.port,
    arrived: (n: number) => new Promise<void>((resolve) => (held.length >= n ? resolve() : waiters.push({ n, resolve }))),
    received: () => held.length,
    release: () => {
      for (const r of held.splice(0)) r.end("done");
    },
  };
}

function limits(t: { max_connections?: number; max_pending_requests?: number; max_requests?: number; max_retries?: number }): Partial<Cluster> {
  const w = (v: number | undefined) => ({ value: v ?? 4294967295 });
  return { circuit_breakers: { thresholds: [{ max_connections: w(t.max_connections), max_pending_requests: w(t.max_pending_requests), max_requests: w(t.max_requests), max_retries: w(t.max_retries) }] } };
}

async function planeWith(extra: Partial<Cluster>, port: number, route = toCluster("c")) {
  const plane = await startPlane({
    clusters: [edsCluster("c", extra)],
    endpoints: [cla("c", [{ port }])],
    listeners: [hcmListener("out", { routeConfig: routeConfig("r", [vhost("all", ["*"], [route])]) })],
  });
  opened.push(plane);
  return plane;
}

function stats(plane: DataPlane): string {
  return statsText({ state: plane.state, runtimes: plane.runtimes, listeners: plane.listeners, stats: plane.stats, logger: silentLogger, xdsConnected: () => false, quit: () => {} });
}

test("max_requests 2: of 5 concurrent slow requests, 3 are refused at once with 503 UO", T, async () => {
  const up = await holdingUpstream();
  const plane = await planeWith(limits({ max_requests: 2 }), up.port);
  const port = plane.port("out");
  const replies: Promise<Reply>[] = [];
  const early: Reply[] = [];
  for (let i = 0; i < 5; i++) {
    const p = viaProxy(port, "http://c/");
    replies.push(p);
    void p.then((r) => early.push(r));
  }
  // The refused three answer while the upstream still holds the other two.
  await up.arrived(2);
  while (early.length < 3) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(early.map((r) => [r.status, r.body]), Array(3).fill([503, "upstream connect error or disconnect/reset before headers. reset reason: overflow"]));
  assert.equal(up.received(), 2);
  up.release();
  const all = await Promise.all(replies);
  assert.equal(all.filter((r) => r.status === 200).length, 2);
  assert.equal(plane.stats.get("response_flag.UO"), 3);
  assert.match(stats(plane), /cluster\.c\.upstream_rq_pending_overflow: 3\n/);
  assert.match(clustersText(plane.state.current, plane.runtimes), /c::upstream_rq_pending_overflow::3\n/);
  assert.match(clustersText(plane.state.current, plane.runtimes), /c::default_priority::max_requests::2\n/);
});

test("max_connections 1 + max_pending_requests 1: one in flight, one waits, the rest overflow", T, async () => {
  const up = await holdingUpstream();
  const plane = await planeWith(limits({ max_connections: 1, max_pending_requests: 1 }), up.port);
  const port = plane.port("out");
  // Warm one connection so the first request does not count as pending while it connects.
  const warm = viaProxy(port, "http://c/");
  await up.arrived(1);
  up.release();
  assert.equal((await warm).status, 200);

  const replies = Array.from({ length: 4 }, () => viaProxy(port, "http://c/"));
  await up.arrived(1);
  const settled: Reply[] = [];
  for (const p of replies) void p.then((r) => settled.push(r));
  while (settled.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(settled.map((r) => r.status), [503, 503]);
  assert.equal(up.received(), 1, "the waiting request has not reached the upstream: one connection only");
  up.release();
  await up.arrived(1); // the waiting one gets the connection next
  up.release();
  const all = await Promise.all(replies);
  assert.equal(all.filter((r) => r.status === 200).length, 2);
  const rt = plane.runtimes.peek("c")!;
  assert.equal(rt.overflow.rqPendingOverflow, 2);
  assert.ok(rt.overflow.cxOverflow >= 1);
  assert.equal(rt.pending, 0);
});

test("max_retries 0: a retriable failure is answered without retrying and counted", T, async () => {
  const bad = await startUpstream("bad", (req, res) => {
    req.resume();
    res.writeHead(503).end("nope");
  });
  opened.push(bad);
  const plane = await planeWith(limits({ max_retries: 0 }), bad.port, toCluster("c", "/", {}, { retry_policy: { retry_on: "5xx", num_retries: { value: 3 } } }));
  const r = await viaProxy(plane.port("out"), "http://c/");
  assert.equal(r.status, 503);
  assert.equal(r.body, "nope");
  const rt = plane.runtimes.peek("c")!;
  assert.equal(rt.rqRetry, 0);
  assert.equal(rt.overflow.rqRetryOverflow, 1);
  assert.equal(rt.retriesActive, 0);
});

test("unlimited thresholds compile to no circuit breaker at all", T, async () => {
  const up = await startUpstream("u");
  opened.push(up);
  const plane = await planeWith(limits({}), up.port);
  assert.equal(plane.state.current.clusters.get("c")!.circuitBreakers, undefined);
  assert.equal((await viaProxy(plane.port("out"), "http://c/")).status, 200);
  assert.match(clustersText(plane.state.current, plane.runtimes), /c::default_priority::max_connections::4294967295\n/);
});
