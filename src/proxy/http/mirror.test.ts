// Request mirroring with real sockets: the copy reaches the mirror upstream with Host
// "<host>-shadow", the client gets the primary's answer, and a mirror that hangs, refuses or
// does not exist never fails the main request.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { cla, deadPort, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, viaProxy, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";
import type { Route } from "../../xds/envoy-types.ts";
import { MIRROR_STAT, shadowHost } from "./mirror.ts";

interface Seen { url: string; host: string; body: string }

let primary: Upstream, shadow: Upstream, counter: Upstream, hanging: Upstream;
let plane: DataPlane & { port(l: string): number };
let port: number;
const shadowSeen: Seen[] = [];
let counted = 0;
const hung = new Set<http.ServerResponse>();

const RETRY = { retry_on: "connect-failure", num_retries: { value: 2 } };
const route = (prefix: string, mirrors: unknown[], action: Record<string, unknown> = {}): Route =>
  ({ match: { prefix }, route: { cluster: "P", request_mirror_policies: mirrors, ...action } }) as Route;

before(async () => {
  primary = await startUpstream("primary");
  // The shadow answers 500 slowly-free: the client must still see the primary's 200.
  shadow = await startUpstream("shadow", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      shadowSeen.push({ url: req.url ?? "", host: req.headers.host ?? "", body: Buffer.concat(chunks).toString() });
      res.writeHead(500);
      res.end("shadow says no");
    });
  });
  counter = await startUpstream("counter", (req, res) => {
    counted++;
    req.resume();
    res.end();
  });
  // Never answers until the test closes it.
  hanging = await startUpstream("hanging", (req, res) => {
    req.resume();
    hung.add(res);
  });
  const refused = await deadPort();
  plane = await startPlane({
    clusters: ["P", "S", "C", "H", "R"].map((n) => edsCluster(n)),
    endpoints: [cla("P", [{ port: primary.port }]), cla("S", [{ port: shadow.port }]), cla("C", [{ port: counter.port }]), cla("H", [{ port: hanging.port }]), cla("R", [{ port: refused }])],
    listeners: [hcmListener("http_proxy", { rds: "http_proxy" })],
    routes: [routeConfig("http_proxy", [
      vhost("reviews", ["reviews:9080"], [
        route("/all", [{ cluster: "S" }], { prefix_rewrite: "/rewritten" }),
        route("/post-buffered", [{ cluster: "S" }], { retry_policy: RETRY }),
        route("/post-streamed", [{ cluster: "S" }]),
        route("/half", [{ cluster: "C", runtime_fraction: { default_value: { numerator: 500_000, denominator: "MILLION" } } }]),
        route("/never", [{ cluster: "C", runtime_fraction: { default_value: { numerator: 0 } } }]),
        route("/hang", [{ cluster: "H" }], { timeout: { seconds: 2 } }),
        route("/refused", [{ cluster: "R" }]),
        route("/missing", [{ cluster: "NOPE" }]),
      ]),
    ])],
  });
  port = plane.port("http_proxy");
});

after(async () => {
  for (const res of hung) res.destroy();
  await plane.close();
  await Promise.all([primary.close(), shadow.close(), counter.close(), hanging.close()]);
});

/** Waits (bounded) for a condition the proxy brings about asynchronously. */
async function eventually(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

function primaryAnswered(r: { status: number; body: string }): void {
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).id, "primary");
}

test("shadow host: '-shadow' goes before the port, as Envoy places it", () => {
  assert.equal(shadowHost("reviews:9080"), "reviews-shadow:9080");
  assert.equal(shadowHost("reviews"), "reviews-shadow");
  assert.equal(shadowHost("[::1]:80"), "[::1]-shadow:80");
});

test("100% mirror: the copy reaches the mirror with Host '<host>-shadow'; the client gets the primary's answer", async () => {
  const before = shadowSeen.length;
  const r = await viaProxy(port, "http://reviews:9080/all/x?q=1");
  primaryAnswered(r);
  assert.equal(JSON.parse(r.body).headers.host, "reviews:9080", "the main request keeps its Host");
  await eventually("the shadow copy", () => shadowSeen.length > before);
  const copy = shadowSeen[shadowSeen.length - 1];
  assert.equal(copy.host, "reviews-shadow:9080");
  assert.equal(copy.url, "/rewritten/x?q=1", "the copy is the request as forwarded (after rewrite)");
});

test("a body buffered for retries is mirrored; a streamed body is not (counted as skipped)", async () => {
  const before = shadowSeen.length;
  primaryAnswered(await viaProxy(port, "http://reviews:9080/post-buffered", { method: "POST", body: "hello mirror" }));
  await eventually("the shadow copy with its body", () => shadowSeen.length > before);
  assert.equal(shadowSeen[shadowSeen.length - 1].body, "hello mirror");

  const skipped = plane.stats.get(MIRROR_STAT.skippedBody);
  const seen = shadowSeen.length;
  const streamed = await viaProxy(port, "http://reviews:9080/post-streamed", { method: "POST", body: "not copied" });
  primaryAnswered(streamed);
  assert.equal(plane.stats.get(MIRROR_STAT.skippedBody), skipped + 1);
  // A GET on the same route is still mirrored; the streamed POST left no copy.
  primaryAnswered(await viaProxy(port, "http://reviews:9080/post-streamed"));
  await eventually("the GET's copy", () => shadowSeen.length > seen);
  assert.deepEqual(shadowSeen.slice(seen).map((s) => s.body), [""]);
});

test("a mirror that hangs, refuses connections or does not exist never fails the main request", async () => {
  const failed = plane.stats.get(MIRROR_STAT.failed);
  for (let i = 0; i < 3; i++) {
    primaryAnswered(await viaProxy(port, "http://reviews:9080/hang"));
    primaryAnswered(await viaProxy(port, "http://reviews:9080/refused"));
    primaryAnswered(await viaProxy(port, "http://reviews:9080/missing"));
  }
  await eventually("the hanging copies to reach the upstream", () => hung.size >= 3);
  // Refused and missing fail at once; hanging ones when the route timeout ends them.
  await eventually("every failed copy counted", () => plane.stats.get(MIRROR_STAT.failed) >= failed + 9);
});

test("mirror fractions: 50% of 200 requests is plausible; 0% sends none", async () => {
  const start = counted;
  const sentBefore = plane.stats.get(MIRROR_STAT.sent);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(Array.from({ length: 20 }, () => viaProxy(port, "http://reviews:9080/half", { agent })));
      for (const r of replies) primaryAnswered(r);
    }
    const sent = plane.stats.get(MIRROR_STAT.sent) - sentBefore;
    // Binomial(200, 0.5): mean 100, sd ~7; 60..140 is over 5 sd either side.
    assert.ok(sent >= 60 && sent <= 140, `mirrored ${sent} of 200`);
    await eventually("every mirrored copy to arrive", () => counted - start === sent);
    const before = plane.stats.get(MIRROR_STAT.sent);
    for (let i = 0; i < 20; i++) primaryAnswered(await viaProxy(port, "http://reviews:9080/never", { agent }));
    assert.equal(plane.stats.get(MIRROR_STAT.sent), before);
  } finally {
    agent.destroy();
  }
});

test("request_mirror_policies compile: no runtime_fraction is every request; an empty cluster is rejected", async () => {
  const { compileRoute } = await import("../state/compile-route.ts");
  const ok = compileRoute(route("/", [{ cluster: "S" }, { cluster: "C", runtime_fraction: { default_value: { numerator: 25, denominator: "HUNDRED" } } }]), "r", undefined);
  assert.deepEqual(ok.action.kind === "route" ? ok.action.mirrors : undefined, [{ cluster: "S", fraction: 1 }, { cluster: "C", fraction: 0.25 }]);
  assert.throws(() => compileRoute(route("/", [{ cluster: "" }]), "r", undefined), /request_mirror_policies\[0\]\.cluster/);
  assert.throws(() => compileRoute(route("/", [{ cluster: "S", runtime_fraction: { default_value: { numerator: 1, denominator: "BILLION" } } }]), "r", undefined), /denominator/);
});
