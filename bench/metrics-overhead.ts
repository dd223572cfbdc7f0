// What Istio's standard metrics cost a sidecar: requests per second and CPU per request with
// metrics on and off, in one run, through one sidecar (inbound) and through two with mTLS
// (client sidecar -> server sidecar). Two identical pairs run side by side, one started with
// --no-metrics (bench/lib/metrics-mesh.ts); on and off alternate round after round, the
// order flipping each round, and half way the two pairs exchange roles, so drift on this
// shared machine and any difference between the pairs fall on both. Then both
// metrics-on sidecars run under `node --cpu-prof` and the profile says what share the
// telemetry code (record(), the label code, the peer headers) takes.
//
//   npx node bench/metrics-overhead.ts [--rounds N] [--duration S] [--no-profile]
//   (npm run bench:metrics) writes bench/results/metrics-overhead.json and .md
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stopAllChildren } from "./lib/children.ts";
import { parseRoundArgs } from "./lib/round-args.ts";
import { cpuModel, cpuSeconds } from "./lib/proc-stats.ts";
import { errorCount, runWrk } from "./lib/wrk.ts";
import { readProfile } from "./lib/cpuprofile.ts";
import { wrkVersion } from "./lib/mtls-report.ts";
import { startMetricsMesh, wrkTarget, type Metrics, type MetricsMesh, type Role } from "./lib/metrics-mesh.ts";
import { formatMetricsMarkdown, summarise, telemetryShare, type MetricsBenchResult, type MetricsSample, type PathName, type TelemetryShare } from "./lib/metrics-report.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(REPO, "bench/results");

export interface MetricsBenchOptions {
  rounds: number;
  threads: number;
  connections: number;
  warmupS: number;
  durationS: number;
  profile: boolean;
  log: (line: string) => void;
}

export const defaultMetricsOptions: MetricsBenchOptions = {
  // Many short rounds rather than a few long ones: this machine is shared, and the median
  // of many alternating pairs is what holds still from one run to the next.
  rounds: 8,
  threads: 2,
  connections: 16,
  warmupS: 1,
  durationS: 4,
  profile: true,
  log: (l) => process.stderr.write(`metrics bench: ${l}\n`),
};

const PATHS: { name: PathName; sidecars: 1 | 2; roles: Role[] }[] = [
  { name: "1 sidecar", sidecars: 1, roles: ["server"] },
  { name: "2 sidecars (mTLS)", sidecars: 2, roles: ["client", "server"] },
];

async function measure(mesh: MetricsMesh, o: MetricsBenchOptions, round: number, path: (typeof PATHS)[number], metrics: Metrics): Promise<MetricsSample> {
  const target = wrkTarget(mesh.pair(metrics), path.sidecars);
  if (o.warmupS > 0) await runWrk({ ...target, threads: o.threads, connections: o.connections, durationS: o.warmupS });
  const procs = path.roles.map((r) => mesh.sidecar(metrics, r));
  const before = procs.map((p) => cpuSeconds(p.pid));
  const w = await runWrk({ ...target, threads: o.threads, connections: o.connections, durationS: o.durationS });
  const after = procs.map((p) => cpuSeconds(p.pid));
  const cpuUsPerRequest: Record<string, number> = {};
  path.roles.forEach((r, i) => (cpuUsPerRequest[r] = ((after[i]! - before[i]!) * 1e6) / Math.max(1, w.requests)));
  const s: MetricsSample = { round, path: path.name, metrics, pair: mesh.pairName(metrics), requests: w.requests, requestsPerS: w.requestsPerS, p50Ms: w.p50Ms, p99Ms: w.p99Ms, errors: errorCount(w), cpuUsPerRequest };
  o.log(`round ${round} ${path.name} metrics ${metrics} (pair ${s.pair}): ${Math.round(s.requestsPerS)} req/s, p50 ${s.p50Ms.toFixed(2)} ms, CPU µs/req ${Object.entries(cpuUsPerRequest).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}${s.errors ? `; ERRORS ${s.errors}` : ""}`);
  return s;
}

function onlyProfile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return join(dir, files[0]!);
}

/** Both metrics-on sidecars restarted under --cpu-prof, the two-sidecar load, then restarted plainly. */
async function profileOn(mesh: MetricsMesh, o: MetricsBenchOptions): Promise<NonNullable<MetricsBenchResult["profile"]>> {
  const dirs = { server: mkdtempSync(join(tmpdir(), "mizzen-bench-metrics-prof-s-")), client: mkdtempSync(join(tmpdir(), "mizzen-bench-metrics-prof-c-")) };
  try {
    await mesh.restart("on", "server", dirs.server);
    await mesh.restart("on", "client", dirs.client);
    const target = wrkTarget(mesh.pair("on"), 2);
    if (o.warmupS > 0) await runWrk({ ...target, threads: o.threads, connections: o.connections, durationS: o.warmupS });
    const w = await runWrk({ ...target, threads: o.threads, connections: o.connections, durationS: o.durationS });
    await mesh.restart("on", "server");
    await mesh.restart("on", "client");
    const shares: TelemetryShare[] = (["client", "server"] as const).map((r) => telemetryShare(`${r} sidecar (${r === "client" ? "reporter source" : "reporter destination"})`, readProfile(onlyProfile(dirs[r]), REPO, "/src/proxy/")));
    for (const s of shares) o.log(`profile ${s.sidecar}: telemetry self ${s.telemetrySelfMs.toFixed(0)} of ${s.busyMs.toFixed(0)} busy ms; record() ${s.recordTotalMs.toFixed(0)} ms; label code ${s.labelTotalMs.toFixed(0)} ms; peer headers ${s.peerHeadersTotalMs.toFixed(0)} ms`);
    return { load: "2 sidecars (mTLS), wrk at full speed", requestsPerS: w.requestsPerS, shares };
  } finally {
    rmSync(dirs.server, { recursive: true, force: true });
    rmSync(dirs.client, { recursive: true, force: true });
  }
}

export async function runMetricsBench(opts: Partial<MetricsBenchOptions> = {}): Promise<MetricsBenchResult> {
  const o = { ...defaultMetricsOptions, ...opts };
  const wrk = wrkVersion();
  if (!wrk) throw new Error("wrk is not installed; install it (Debian/Ubuntu: apt-get install -y wrk) and run again");
  const machine: Record<string, string | number> = { date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpuModel(), node: process.version, wrk, kernel: release(), loadStart: loadavg()[0]!.toFixed(2) };
  const started = Date.now();
  let mesh: MetricsMesh | undefined;
  try {
    mesh = await startMetricsMesh(o.log);
    const samples: MetricsSample[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      // Half way, the pairs exchange roles: a difference between the pairs falls on both sides.
      if (round === Math.floor(o.rounds / 2) + 1 && o.rounds > 1) {
        o.log("swapping the pairs' roles (restarting the four sidecars)");
        await mesh.swap();
      }
      const order: Metrics[] = round % 2 ? ["on", "off"] : ["off", "on"];
      for (const path of PATHS) for (const m of order) samples.push(await measure(mesh, o, round, path, m));
    }
    const profile = o.profile ? await profileOn(mesh, o) : undefined;
    const summary = summarise(samples);
    for (const s of summary) o.log(`${s.path}: off ${Math.round(s.offRps)} req/s, on ${Math.round(s.onRps)} req/s, on/off ${s.throughputRatio.toFixed(3)} (cost ${s.costPercent.toFixed(1)} %)`);
    return {
      machine: { ...machine, loadEnd: loadavg()[0]!.toFixed(2) },
      config: { rounds: o.rounds, threads: o.threads, connections: o.connections, warmupS: o.warmupS, durationS: o.durationS, bodyBytes: 1024 },
      summary,
      samples,
      ...(profile ? { profile } : {}),
      elapsedS: (Date.now() - started) / 1000,
    };
  } finally {
    if (mesh) await mesh.close();
    await stopAllChildren();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runMetricsBench(parseRoundArgs(process.argv.slice(2)));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "metrics-overhead.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS, "metrics-overhead.md"), formatMetricsMarkdown(result));
  defaultMetricsOptions.log(`done in ${Math.round(result.elapsedS)} s; wrote bench/results/metrics-overhead.json and bench/results/metrics-overhead.md`);
}
