// Three paths to one upstream, measured side by side, round after round, so the noise of a
// shared machine falls on all three alike:
//   direct   load client -> upstream
//   mizzen   load client -> sidecar A (outbound, podIP:15001) =mTLS=> sidecar B (inbound) -> upstream
//   haproxy  load client -> HAProxy 1 =mTLS=> HAProxy 2 -> upstream
// Each round: every path at a constant 1000 req/s (latency), then every path as fast as wrk
// goes (throughput). Around each run, each process's CPU from /proc; after each, its memory.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchChild } from "./children.ts";
import { cpuSeconds, memoryKb, type MemoryKb } from "./proc-stats.ts";
import { errorCount, runWrk } from "./wrk.ts";
import type { ConstantRateOptions, ConstantRateResult, LatencySummary } from "./constant-rate.ts";

const CONSTANT_RATE_SCRIPT = fileURLToPath(new URL("./constant-rate.ts", import.meta.url));

export type PathName = "direct" | "mizzen" | "haproxy";
export const PATHS: readonly PathName[] = ["direct", "mizzen", "haproxy"];
export type TestName = "constant-rate" | "throughput";

/** Where a path's load goes, and which processes are on it. */
export interface PathTarget {
  name: PathName;
  description: string;
  host: string;
  port: number;
  /** Request target: "/" for the upstream, an absolute URI for a proxy. */
  target: string;
  hostHeader: string;
  /** The proxies on the path, client side first (none for direct). */
  proxies(): BenchChild[];
}

export interface ProcessSample {
  /** "proxy 1", "proxy 2" or "upstream". */
  role: string;
  cpuS: number;
  /** CPU ms per 1000 requests (= µs per request). */
  msPer1000: number;
  /** CPU seconds per second of the run: the share of one core it used. */
  vcpu: number;
  memory: MemoryKb;
}

export interface RunSample {
  round: number;
  path: PathName;
  test: TestName;
  requests: number;
  durationS: number;
  requestsPerS: number;
  latency: LatencySummary;
  /** Constant rate only: latency from the time each request was due (queueing included). */
  corrected?: LatencySummary;
  errors: number;
  processes: ProcessSample[];
  /** Requests per CPU-second of the path's proxies together (NaN for direct). */
  requestsPerProxyCoreS: number;
}

export interface CompareOptions {
  rounds: number;
  rate: number;
  rateDurationS: number;
  connections: number;
  wrkThreads: number;
  wrkDurationS: number;
  warmupS: number;
  log: (line: string) => void;
}

function runConstantRateChild(o: ConstantRateOptions): Promise<ConstantRateResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CONSTANT_RATE_SCRIPT, JSON.stringify(o)], { timeout: (o.durationS + 60) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err) reject(new Error(`constant-rate client failed: ${err.message}\n${errOut}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as ConstantRateResult);
    });
  });
}

type Load = Omit<RunSample, "round" | "path" | "test" | "processes" | "requestsPerProxyCoreS">;

async function constantRate(t: PathTarget, o: CompareOptions, rate: number, durationS: number): Promise<Load> {
  const r = await runConstantRateChild({ host: t.host, port: t.port, target: t.target, hostHeader: t.hostHeader, connections: o.connections, rate, durationS });
  return {
    requests: r.completed, durationS: r.durationS, requestsPerS: r.achievedRps, latency: r.service, corrected: r.corrected,
    errors: r.errors.connect + r.errors.read + r.errors.timeout + r.non2xx,
  };
}

async function wrkRun(t: PathTarget, o: CompareOptions, durationS: number): Promise<Load> {
  const w = await runWrk({
    url: `http://${t.host}:${t.port}/`, threads: o.wrkThreads, connections: o.connections, durationS,
    ...(t.target !== "/" ? { requestTarget: t.target, hostHeader: t.hostHeader } : {}),
  });
  return {
    requests: w.requests, durationS: w.durationS, requestsPerS: w.requestsPerS,
    latency: { p50Ms: w.p50Ms, p90Ms: w.p90Ms, p99Ms: w.p99Ms, maxMs: w.maxMs, meanMs: w.meanMs },
    errors: errorCount(w),
  };
}

/** Runs a load and reads each process's CPU around it and its memory after it. */
async function measured(t: PathTarget, upstream: BenchChild, round: number, test: TestName, load: () => Promise<Load>): Promise<RunSample> {
  const procs = [...t.proxies().map((p, i) => ({ role: `proxy ${i + 1}`, p })), { role: "upstream", p: upstream }];
  const before = procs.map(({ p }) => cpuSeconds(p.pid));
  const r = await load();
  const processes: ProcessSample[] = procs.map(({ role, p }, i) => {
    const cpuS = cpuSeconds(p.pid) - before[i]!;
    // Per second of the load itself (the client's start-up around it costs the proxies nothing).
    return { role, cpuS, msPer1000: (cpuS * 1e6) / r.requests, vcpu: cpuS / r.durationS, memory: memoryKb(p.pid) };
  });
  const proxyCpu = processes.filter((x) => x.role !== "upstream").reduce((a, x) => a + x.cpuS, 0);
  return { round, path: t.name, test, ...r, processes, requestsPerProxyCoreS: proxyCpu > 0 ? r.requests / proxyCpu : NaN };
}

function logSample(o: CompareOptions, s: RunSample): void {
  const cpu = s.processes.map((p) => `${p.role} ${p.msPer1000.toFixed(0)} µs/req ${p.vcpu.toFixed(2)} vCPU ${(p.memory.rssKb / 1024).toFixed(0)} MiB`).join("; ");
  o.log(`round ${s.round} ${s.path} ${s.test}: ${Math.round(s.requestsPerS)} req/s, p50 ${s.latency.p50Ms.toFixed(2)} p99 ${s.latency.p99Ms.toFixed(2)} max ${s.latency.maxMs.toFixed(2)} ms; ${cpu}${s.errors ? `; ERRORS ${s.errors}` : ""}`);
}

export async function comparePaths(targets: PathTarget[], upstream: BenchChild, o: CompareOptions): Promise<RunSample[]> {
  // Warm-up at the constant rate, not full speed, so the first round's memory readings are
  // what a proxy holds at 1000 req/s (VmHWM would otherwise keep a full-speed peak).
  for (const t of targets) {
    if (o.warmupS > 0) await constantRate(t, o, o.rate, o.warmupS);
  }
  const samples: RunSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Rotate the order each round, so no path always runs first (or right after another).
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
    for (const t of order) {
      const s = await measured(t, upstream, round, "constant-rate", () => constantRate(t, o, o.rate, o.rateDurationS));
      logSample(o, s);
      samples.push(s);
    }
    for (const t of order) {
      const s = await measured(t, upstream, round, "throughput", () => wrkRun(t, o, o.wrkDurationS));
      logSample(o, s);
      samples.push(s);
    }
  }
  return samples;
}

/** Memory of every proxy now (VmHWM is the peak over the process's life). */
export function proxyMemory(targets: PathTarget[]): { path: PathName; role: string; memory: MemoryKb }[] {
  return targets.flatMap((t) => t.proxies().map((p, i) => ({ path: t.name, role: `proxy ${i + 1}`, memory: memoryKb(p.pid) })));
}
