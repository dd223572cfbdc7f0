import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMetricsMarkdown, median, summarise, telemetryShare, type MetricsSample } from "./metrics-report.ts";
import type { ProfileSummary } from "./cpuprofile.ts";

const sample = (round: number, metrics: "on" | "off", rps: number, server: number): MetricsSample =>
  ({ round, path: "1 sidecar", metrics, requests: rps * 4, requestsPerS: rps, p50Ms: 1, p99Ms: 2, errors: 0, cpuUsPerRequest: { server } });

test("the summary takes medians over rounds, so one noisy round does not decide", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  const [s] = summarise([sample(1, "on", 900, 70), sample(1, "off", 1000, 60), sample(2, "on", 950, 72), sample(2, "off", 400, 90), sample(3, "on", 940, 71), sample(3, "off", 1000, 61)]);
  assert.equal(s!.rounds, 3);
  assert.equal(s!.onRps, 940);
  assert.equal(s!.offRps, 1000);
  assert.equal(s!.throughputRatio, 0.94);
  assert.ok(Math.abs(s!.costPercent - 6) < 1e-9);
  assert.deepEqual([s!.cpuUsOn, s!.cpuUsOff], [{ server: 71 }, { server: 61 }]);
});

test("the profile share counts telemetry self time once, and record() with its callees", () => {
  const fn = (name: string, location: string, selfMs: number, totalMs: number) => ({ key: `${name} ${location}`, name, location, ours: true, selfMs, totalMs });
  const p: ProfileSummary = {
    sampledMs: 1000, busyMs: 800, idleMs: 200, gcMs: 10, selfByOrigin: { ours: 100, nodeModules: 0, runtime: 700 }, nativeCallers: {},
    functions: [
      fn("record", "src/proxy/telemetry/istio-metrics.ts:120", 5, 9),
      fn("observe", "src/proxy/telemetry/prometheus-text.ts:45", 3, 3),
      fn("takePeerHeaders", "src/proxy/telemetry/peer-metadata.ts:100", 1, 1),
      fn("renderLabels", "src/proxy/telemetry/prometheus-text.ts:15", 0.5, 0.5),
      fn("handleRequest", "src/proxy/http/request-handler.ts:60", 20, 300),
    ],
  };
  const s = telemetryShare("server", p);
  assert.deepEqual([s.busyMs, s.telemetrySelfMs, s.recordTotalMs, s.peerHeadersTotalMs, s.labelTotalMs], [800, 9.5, 9, 1, 0.5]);
  assert.equal(s.top[0]!.name, "record");
  const md = formatMetricsMarkdown({ machine: { date: "d", cpu: "c", nproc: 2, node: "v24", wrk: "wrk", loadStart: "1", loadEnd: "1" }, config: { threads: 2, connections: 16, durationS: 4, warmupS: 1, rounds: 1 },
    summary: summarise([sample(1, "on", 900, 70), sample(1, "off", 1000, 60)]), samples: [], profile: { load: "x", requestsPerS: 1, shares: [s] }, elapsedS: 1 });
  assert.match(md, /\| 1 sidecar \| 1000 \| 900 \| 0\.900 \| 10\.0 % \|/);
  assert.match(md, /\| server \| 800 \| 9\.5 ms \(1\.2 %\) \| 9\.0 ms \(1\.1 %\)/);
});
