import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { Cluster } from "../../xds/envoy-types.ts";
import { cla, edsCluster, feed, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../test-kit.ts";
import { clustersJson, clustersText } from "../admin/clusters-view.ts";
import { OutlierDetector } from "./outlier-detector.ts";
import { compileOutlierDetection } from "../state/compile-cluster.ts";

const opened: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of opened.reverse()) await o.close();
});
const T = { timeout: 15_000 };

async function upstream(id: string, status: () => number): Promise<Upstream> {
  const u = await startUpstream(id, (req, res) => {
    req.resume();
    res.writeHead(status(), { "x-upstream": id }).end(id);
  });
  opened.push(u);
  return u;
}

function od(o: { c5xx?: number; gw?: number; intervalMs?: number; baseMs?: number; maxPct?: number }): Partial<Cluster> {
  const ms = (n: number) => ({ seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1e6 });
  return {
    outlier_detection: {
      ...(o.c5xx !== undefined ? { consecutive_5xx: { value: o.c5xx } } : {}),
      ...(o.gw !== undefined ? { consecutive_gateway_failure: { value: o.gw } } : {}),
      interval: ms(o.intervalMs ?? 50),
      base_ejection_time: ms(o.baseMs ?? 200),
      max_ejection_percent: { value: o.maxPct ?? 100 },
    },
  };
}

async function planeWith(extra: Partial<Cluster>, ports: number[]) {
  const plane = await startPlane({
    clusters: [edsCluster("c", extra)],
    endpoints: [cla("c", ports.map((port) => ({ port })))],
    listeners: [hcmListener("out", { routeConfig: routeConfig("r", [vhost("all", ["*"], [toCluster("c")])]) })],
  });
  opened.push(plane);
  return plane;
}

async function hits(port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(port, "http://c/");
    const key = `${r.headers["x-upstream"] ?? "-"}:${r.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

test("a host answering 503 is ejected after consecutive_5xx and gets no traffic; /clusters says so", T, async () => {
  const bad = await upstream("bad", () => 503);
  const good = await upstream("good", () => 200);
  const plane = await planeWith(od({ c5xx: 3, baseMs: 60_000, intervalMs: 1000 }), [bad.port, good.port]);
  const port = plane.port("out");
  const first = await hits(port, 6); // round robin: bad gets 3 in a row of its turns
  assert.equal(first["bad:503"], 3);
  const later = await hits(port, 20);
  assert.deepEqual(later, { "good:200": 20 });
  const badKey = `127.0.0.1:${bad.port}`;
  const text = clustersText(plane.state.current, plane.runtimes);
  assert.ok(text.includes(`c::${badKey}::health_flags::/failed_outlier_check\n`), text);
  assert.ok(text.includes(`c::127.0.0.1:${good.port}::health_flags::healthy\n`));
  assert.ok(text.includes("c::outlier_detection.ejections_active::1\n"));
  const json = JSON.stringify(clustersJson(plane.state.current, plane.runtimes));
  assert.ok(json.includes('"failed_outlier_check":true'));
});

test("the ejection ends after base_ejection_time and the host gets traffic again", T, async () => {
  let failing = true;
  const flaky = await upstream("flaky", () => (failing ? 503 : 200));
  const good = await upstream("good", () => 200);
  const plane = await planeWith(od({ c5xx: 2, baseMs: 200, intervalMs: 20 }), [flaky.port, good.port]);
  const port = plane.port("out");
  await hits(port, 4);
  const rt = plane.runtimes.peek("c")!;
  assert.equal(rt.outlier!.ejectedCount, 1);
  failing = false;
  while (rt.outlier!.ejectedCount > 0) await new Promise((r) => setTimeout(r, 20));
  const after = await hits(port, 10);
  assert.equal(after["flaky:200"], 5, JSON.stringify(after));
  assert.equal(after["good:200"], 5);
});

test("max_ejection_percent: with 50 % of two hosts, the second failing host stays in", T, async () => {
  const a = await upstream("a", () => 503);
  const b = await upstream("b", () => 503);
  const plane = await planeWith(od({ c5xx: 2, baseMs: 60_000, intervalMs: 1000, maxPct: 50 }), [a.port, b.port]);
  await hits(plane.port("out"), 12);
  const o = plane.runtimes.peek("c")!.outlier!;
  assert.equal(o.ejectedCount, 1);
  assert.ok(o.ejectionsOverflow >= 1);
  // Envoy's default 10 % never ejects one of two hosts.
  const low = await planeWith(od({ c5xx: 2, baseMs: 60_000, intervalMs: 1000, maxPct: 10 }), [a.port, b.port]);
  await hits(low.port("out"), 8);
  assert.equal(low.runtimes.peek("c")!.outlier!.ejectedCount, 0);
});

test("connect failures count as gateway errors and eject the dead host", T, async () => {
  const good = await upstream("good", () => 200);
  const dead = await startUpstream("dead");
  const deadPort = dead.port;
  await dead.close();
  const plane = await planeWith(od({ gw: 2, baseMs: 60_000, intervalMs: 1000 }), [deadPort, good.port]);
  const r = await hits(plane.port("out"), 14);
  assert.equal(r["-:503"], 2, JSON.stringify(r));
  assert.equal(r["good:200"], 12);
});

test("host state survives a snapshot swap for the same cluster; the timer stops when the cluster goes", T, async () => {
  const bad = await upstream("bad", () => 503);
  const good = await upstream("good", () => 200);
  const plane = await planeWith(od({ c5xx: 1, baseMs: 60_000, intervalMs: 1000 }), [bad.port, good.port]);
  await hits(plane.port("out"), 2);
  const rt = plane.runtimes.peek("c")!;
  const detector = rt.outlier!;
  assert.equal(detector.ejectedCount, 1);
  // Same cluster, endpoints re-sent: the ejection stays.
  await feed(plane, { endpoints: [cla("c", [{ port: bad.port }, { port: good.port }])] }, "2");
  assert.equal(plane.runtimes.peek("c")!.outlier, detector);
  assert.deepEqual(await hits(plane.port("out"), 4), { "good:200": 4 });
  await feed(plane, { clusters: [edsCluster("other")], endpoints: [cla("other", [{ port: good.port }])] }, "3");
  assert.equal(plane.runtimes.peek("c"), undefined);
  assert.equal(detector.sweeping, false);
});

test("ejection time is base_ejection_time times the number of ejections (fake clock)", () => {
  let now = 1_000;
  const cfg = compileOutlierDetection({ name: "c", ...od({ c5xx: 1, baseMs: 100, intervalMs: 10 }) }, "c")!;
  const d = new OutlierDetector(cfg, () => now);
  try {
    d.setHosts(["h1", "h2"]);
    d.reportStatus("h1", 500);
    assert.ok(d.isEjected("h1"));
    now += 100;
    d.sweep();
    assert.ok(!d.isEjected("h1"), "first ejection: 1 x 100 ms");
    d.reportLocalFailure("h1");
    assert.ok(d.isEjected("h1"));
    now += 100;
    d.sweep();
    assert.ok(d.isEjected("h1"), "second ejection lasts 2 x 100 ms");
    now += 100;
    d.sweep();
    assert.ok(!d.isEjected("h1"));
    // A success resets the consecutive count.
    const slow = new OutlierDetector({ ...cfg, consecutive5xx: 2, key: "k2" }, () => now);
    slow.setHosts(["h"]);
    slow.reportStatus("h", 503);
    slow.reportStatus("h", 200);
    slow.reportStatus("h", 503);
    assert.ok(!slow.isEjected("h"));
    slow.stop();
  } finally {
    d.stop();
  }
});
