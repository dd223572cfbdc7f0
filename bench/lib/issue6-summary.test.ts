// Headline figures and target verdicts from made-up runs whose answers are known.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PathName, RunSample, TestName } from "./data-plane-compare.ts";
import type { ScaleResult } from "./control-scale.ts";
import { headline, pathFigures, targetVerdicts } from "./issue6-summary.ts";

const mem = (rssMiB: number, hwmMiB = rssMiB) => ({ rssKb: rssMiB * 1024, hwmKb: hwmMiB * 1024 });

function run(round: number, path: PathName, test: TestName, p99Ms: number, proxyUsPerReq: number[], requests: number, vcpu: number[] = [], memMiB = 50): RunSample {
  const processes = [
    ...proxyUsPerReq.map((us, i) => ({ role: `proxy ${i + 1}`, cpuS: (us * requests) / 1e6, msPer1000: us, vcpu: vcpu[i] ?? 0, memory: mem(memMiB) })),
    { role: "upstream", cpuS: 1, msPer1000: 10, vcpu: 0.1, memory: mem(90) },
  ];
  const proxyCpu = processes.filter((p) => p.role !== "upstream").reduce((a, p) => a + p.cpuS, 0);
  return {
    round, path, test, requests, durationS: 10, requestsPerS: requests / 10,
    latency: { p50Ms: p99Ms / 4, p90Ms: p99Ms / 2, p99Ms, maxMs: p99Ms * 2, meanMs: p99Ms / 3 },
    errors: 0, processes, requestsPerProxyCoreS: proxyCpu > 0 ? requests / proxyCpu : NaN,
  };
}

const SAMPLES: RunSample[] = [1, 2].flatMap((round) => [
  run(round, "direct", "constant-rate", 1.0, [], 10_000),
  run(round, "mizzen", "constant-rate", round === 1 ? 1.5 : 2.5, [80, 60], 10_000, [0.08, 0.06], 55),
  run(round, "haproxy", "constant-rate", 1.2, [20, 20], 10_000, [0.02, 0.02], 15),
  run(round, "direct", "throughput", 2, [], 500_000),
  // Mizzen: 50 + 50 µs per request -> 10,000 requests per proxy CPU-second; HAProxy: 10 + 10 -> 50,000.
  run(round, "mizzen", "throughput", 5, [50, 50], 100_000),
  run(round, "haproxy", "throughput", 3, [10, 10], 200_000),
]);

test("added latency is the mean of per-round differences to the direct path", () => {
  const h = headline(SAMPLES, []);
  assert.ok(Math.abs(h.addedLatency.mizzen!.p99Ms - 1.0) < 1e-9);
  assert.deepEqual(h.addedLatency.mizzen!.p99PerRoundMs.map((x) => Math.round(x * 100) / 100), [0.5, 1.5]);
  assert.ok(Math.abs(h.addedLatency.haproxy!.p99Ms - 0.2) < 1e-9);
});

test("throughput per proxy core compares requests per CPU-second of the two proxies", () => {
  const h = headline(SAMPLES, []);
  assert.ok(Math.abs(h.perCoreRatio - 0.2) < 1e-9);
  assert.ok(Math.abs(h.rawThroughputRatio - 0.5) < 1e-9);
  const f = pathFigures(SAMPLES, ["direct", "mizzen", "haproxy"]);
  assert.ok(Math.abs(f[1]!.throughput.requestsPerProxyCoreS - 10_000) < 1e-6);
  assert.equal(f[1]!.constantRate.proxies.length, 2);
  assert.equal(f[0]!.constantRate.proxies.length, 0);
});

test("memory at 1000 req/s comes from the first constant-rate round; the end reading is kept beside it", () => {
  const h = headline(SAMPLES, [{ path: "mizzen", role: "proxy 1", memory: mem(70, 80) }]);
  const a = h.memory.find((m) => m.path === "mizzen" && m.role === "proxy 1")!;
  assert.equal(a.at1000.rssKb, 55 * 1024);
  assert.equal(a.atEnd.hwmKb, 80 * 1024);
});

function scale(proxies: number, services: number, p99Ms: number): ScaleResult {
  return {
    proxies, services, initialSyncMs: 1, samples: proxies, minMs: 150, p50Ms: p99Ms / 2, p99Ms, maxMs: p99Ms,
    controlIdle: mem(100), controlWithProxies: mem(200), memoryPerProxyKb: 1, controlCpuPerChangeS: 1, controlCpuPerProxyUs: 1,
    bytesPerChange: 1, bytesPerProxyPerChange: 1, pushesPerChange: { rds: proxies }, clientCpuPerChangeS: 0,
  };
}

test("each target of the issue is judged against its limit", () => {
  const v = targetVerdicts(headline(SAMPLES, []), [scale(1000, 100, 800), scale(1000, 1000, 1500), scale(500, 100, 100)]);
  const met = Object.fromEntries(v.map((t) => [t.target, t.met]));
  assert.equal(met["Per sidecar at 1000 req/s, mTLS and metrics on: at most 0.10 vCPU"], true);
  // 55 MiB is 57.7 MB: within 60 MB.
  assert.equal(met["Per sidecar at 1000 req/s, mTLS and metrics on: at most 60 MB"], true);
  assert.equal(met["Two sidecars add at most 1 ms at p99 at 1000 req/s"], true);
  assert.equal(met["Throughput per proxy core at least 60% of HAProxy's"], false);
  assert.equal(met["A config change reaches 1000 connected proxies in under 1 s at p99 (100 services)"], true);
  assert.equal(met["A config change reaches 1000 connected proxies in under 1 s at p99 (1000 services)"], false);
  assert.equal(v.length, 6);
});

test("the median of per-round differences keeps one stalled round from moving the headline", () => {
  const rounds = [1, 2, 3].flatMap((round) => [
    run(round, "direct", "constant-rate", 1.0, [], 10_000),
    run(round, "mizzen", "constant-rate", round === 2 ? 40 : 1.6 + round / 10, [80, 60], 10_000),
    run(round, "haproxy", "constant-rate", 1.2, [20, 20], 10_000),
    run(round, "mizzen", "throughput", 5, [50, 50], 100_000),
    run(round, "haproxy", "throughput", 3, [10, 10], 200_000),
  ]);
  const h = headline(rounds, []);
  assert.ok(Math.abs(h.addedLatency.mizzen!.p99Ms - 0.9) < 1e-9, `p99 delta ${h.addedLatency.mizzen!.p99Ms}`);
  assert.equal(h.addedLatency.mizzen!.p99PerRoundMs.length, 3);
});
