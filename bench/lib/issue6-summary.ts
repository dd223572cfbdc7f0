// Turns the data-plane runs and the control-plane grid into the headline figures and the
// verdict on each target of issue 6. Pure functions of the measurements, so they are tested
// without running anything.
import type { LatencySummary } from "./constant-rate.ts";
import type { PathName, RunSample, TestName } from "./data-plane-compare.ts";
import type { ScaleResult } from "./control-scale.ts";
import type { MemoryKb } from "./proc-stats.ts";

export interface ProxyFigures {
  role: string;
  /** CPU µs per request (= ms per 1000 requests), mean over rounds. */
  msPer1000: number;
  /** Share of one core used during the run, mean over rounds. */
  vcpu: number;
}

export interface TestFigures {
  rounds: number;
  requestsPerS: number;
  requestsPerSRange: [number, number];
  /** Percentiles: mean over rounds; max: the worst round. */
  latency: LatencySummary;
  correctedP99Ms?: number;
  errors: number;
  proxies: ProxyFigures[];
  upstreamMsPer1000: number;
  /** Requests per CPU-second of the path's proxies together (throughput test). */
  requestsPerProxyCoreS: number;
}

export interface PathFigures {
  path: PathName;
  constantRate: TestFigures;
  throughput: TestFigures;
}

/** Added latency: the median over rounds of (path - direct) in the same round. */
export interface LatencyDelta {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 difference in each round, to show how much it moves. */
  p99PerRoundMs: number[];
}

export interface ProxyMemoryFigures {
  path: PathName;
  role: string;
  /** After the first 1000 req/s run (only constant-rate load before it). */
  at1000: MemoryKb;
  /** At the end of the data-plane runs (full-speed wrk included). */
  atEnd: MemoryKb;
}

export interface Headline {
  addedLatency: Partial<Record<"mizzen" | "haproxy", LatencyDelta>>;
  /** Mizzen's requests per proxy CPU-second over HAProxy's (full-speed runs). */
  perCoreRatio: number;
  perCoreRatioPerRound: number[];
  /** Raw req/s of the Mizzen path over HAProxy's (both limited by a 2-core machine shared with wrk). */
  rawThroughputRatio: number;
  vcpuAt1000: { path: PathName; role: string; vcpu: number }[];
  memory: ProxyMemoryFigures[];
}

export interface TargetVerdict {
  target: string;
  measured: string;
  met: boolean;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function testFigures(samples: RunSample[]): TestFigures {
  if (!samples.length) throw new Error("no samples to summarise");
  const roles = samples[0]!.processes.map((p) => p.role).filter((r) => r !== "upstream");
  const proc = (s: RunSample, role: string) => s.processes.find((p) => p.role === role)!;
  const rps = samples.map((s) => s.requestsPerS);
  const corrected = samples.filter((s) => s.corrected).map((s) => s.corrected!.p99Ms);
  return {
    rounds: samples.length,
    requestsPerS: mean(rps),
    requestsPerSRange: [Math.min(...rps), Math.max(...rps)],
    latency: {
      p50Ms: mean(samples.map((s) => s.latency.p50Ms)),
      p90Ms: mean(samples.map((s) => s.latency.p90Ms)),
      p99Ms: mean(samples.map((s) => s.latency.p99Ms)),
      maxMs: Math.max(...samples.map((s) => s.latency.maxMs)),
      meanMs: mean(samples.map((s) => s.latency.meanMs)),
    },
    ...(corrected.length ? { correctedP99Ms: mean(corrected) } : {}),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    proxies: roles.map((role) => ({ role, msPer1000: mean(samples.map((s) => proc(s, role).msPer1000)), vcpu: mean(samples.map((s) => proc(s, role).vcpu)) })),
    upstreamMsPer1000: mean(samples.map((s) => proc(s, "upstream").msPer1000)),
    requestsPerProxyCoreS: mean(samples.map((s) => s.requestsPerProxyCoreS)),
  };
}

function pick(samples: RunSample[], path: PathName, test: TestName): RunSample[] {
  return samples.filter((s) => s.path === path && s.test === test).sort((a, b) => a.round - b.round);
}

export function pathFigures(samples: RunSample[], paths: readonly PathName[]): PathFigures[] {
  return paths.map((path) => ({ path, constantRate: testFigures(pick(samples, path, "constant-rate")), throughput: testFigures(pick(samples, path, "throughput")) }));
}

function latencyDelta(samples: RunSample[], path: PathName): LatencyDelta {
  const base = pick(samples, "direct", "constant-rate");
  const mine = pick(samples, path, "constant-rate");
  const rounds = mine.filter((m) => base.some((b) => b.round === m.round));
  // The median of per-round differences: one round hit by a stall elsewhere on the machine moves it least.
  const d = (k: keyof LatencySummary) => median(rounds.map((m) => m.latency[k] - base.find((b) => b.round === m.round)!.latency[k]));
  return {
    p50Ms: d("p50Ms"), p90Ms: d("p90Ms"), p99Ms: d("p99Ms"), maxMs: d("maxMs"),
    p99PerRoundMs: rounds.map((m) => m.latency.p99Ms - base.find((b) => b.round === m.round)!.latency.p99Ms),
  };
}

export function headline(samples: RunSample[], endMemory: { path: PathName; role: string; memory: MemoryKb }[]): Headline {
  const mz = pick(samples, "mizzen", "throughput");
  const hp = pick(samples, "haproxy", "throughput");
  const perRound = mz.filter((m) => hp.some((h) => h.round === m.round)).map((m) => m.requestsPerProxyCoreS / hp.find((h) => h.round === m.round)!.requestsPerProxyCoreS);
  const vcpuAt1000: Headline["vcpuAt1000"] = [];
  const memory: ProxyMemoryFigures[] = [];
  for (const path of ["mizzen", "haproxy"] as const) {
    const cr = pick(samples, path, "constant-rate");
    if (!cr.length) continue;
    for (const p of cr[0]!.processes.filter((x) => x.role !== "upstream")) {
      vcpuAt1000.push({ path, role: p.role, vcpu: mean(cr.map((s) => s.processes.find((x) => x.role === p.role)!.vcpu)) });
      const end = endMemory.find((m) => m.path === path && m.role === p.role);
      memory.push({ path, role: p.role, at1000: p.memory, atEnd: end?.memory ?? p.memory });
    }
  }
  return {
    addedLatency: { mizzen: latencyDelta(samples, "mizzen"), haproxy: latencyDelta(samples, "haproxy") },
    perCoreRatio: mean(mz.map((s) => s.requestsPerProxyCoreS)) / mean(hp.map((s) => s.requestsPerProxyCoreS)),
    perCoreRatioPerRound: perRound,
    rawThroughputRatio: mean(mz.map((s) => s.requestsPerS)) / mean(hp.map((s) => s.requestsPerS)),
    vcpuAt1000,
    memory,
  };
}

const MB = 1e6;

/** Issue 6's targets beside what was measured. */
export function targetVerdicts(h: Headline, scale: ScaleResult[]): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  const sidecars = h.vcpuAt1000.filter((v) => v.path === "mizzen");
  const mems = h.memory.filter((m) => m.path === "mizzen");
  if (sidecars.length) {
    const worstCpu = Math.max(...sidecars.map((s) => s.vcpu));
    out.push({
      target: "Per sidecar at 1000 req/s, mTLS and metrics on: at most 0.10 vCPU",
      measured: sidecars.map((s) => `${s.role === "proxy 1" ? "sidecar A" : "sidecar B"} ${s.vcpu.toFixed(3)} vCPU`).join(", "),
      met: worstCpu <= 0.1,
    });
    const worstHwm = Math.max(...mems.map((m) => m.at1000.hwmKb * 1024));
    out.push({
      target: "Per sidecar at 1000 req/s, mTLS and metrics on: at most 60 MB",
      measured: mems.map((m) => `${m.role === "proxy 1" ? "sidecar A" : "sidecar B"} peak ${(m.at1000.hwmKb * 1024 / MB).toFixed(0)} MB (RSS ${(m.at1000.rssKb * 1024 / MB).toFixed(0)} MB${m.at1000.anonKb !== undefined ? `, of it private ${(m.at1000.anonKb * 1024 / MB).toFixed(0)} MB` : ""})`).join(", "),
      met: worstHwm <= 60 * MB,
    });
  }
  const added = h.addedLatency.mizzen;
  if (added) {
    out.push({
      target: "Two sidecars add at most 1 ms at p99 at 1000 req/s",
      measured: `+${added.p99Ms.toFixed(2)} ms at p99 (rounds: ${added.p99PerRoundMs.map((x) => `${x >= 0 ? "+" : ""}${x.toFixed(2)}`).join(", ")} ms); HAProxy pair +${h.addedLatency.haproxy?.p99Ms.toFixed(2) ?? "?"} ms`,
      met: added.p99Ms <= 1,
    });
  }
  if (Number.isFinite(h.perCoreRatio)) {
    out.push({
      target: "Throughput per proxy core at least 60% of HAProxy's",
      measured: `${(h.perCoreRatio * 100).toFixed(0)}% (rounds: ${h.perCoreRatioPerRound.map((r) => `${(r * 100).toFixed(0)}%`).join(", ")})`,
      met: h.perCoreRatio >= 0.6,
    });
  }
  for (const r of scale.filter((s) => s.proxies === 1000)) {
    out.push({
      target: `A config change reaches 1000 connected proxies in under 1 s at p99 (${r.services} services)`,
      measured: `p99 ${(r.p99Ms / 1000).toFixed(2)} s (p50 ${(r.p50Ms / 1000).toFixed(2)} s)`,
      met: r.p99Ms < 1000,
    });
  }
  return out;
}
