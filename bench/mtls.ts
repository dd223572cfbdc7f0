// What mutual TLS between sidecars costs, measured with and without it in one run:
//   load client -> sidecar A (outbound HTTP proxy, podIP:15001) -> sidecar B (inbound podIP:8080)
//     -> upstream (1 KiB answers)
// The control plane runs in this process with its CA and serves xDS over TLS; both sidecars
// are `mizzen proxy --ca-root ...` child processes with bootstrap tokens, so CPU is read per
// sidecar from /proc. Plaintext (PeerAuthentication DISABLE + DestinationRule tls DISABLE) and
// mTLS (PeerAuthentication STRICT + auto mTLS) alternate, round after round, to spread the
// noise of this shared machine over both. Each gets: the most wrk can push (keep-alive), a
// constant 1000 req/s (latency), and a constant 100 req/s with a new A -> B connection per
// request (DestinationRule maxRequestsPerConnection: 1), which shows what a handshake costs.
// Then one run of sidecar B under `node --cpu-prof` with mTLS.
//
//   npx node bench/mtls.ts [--rounds N] [--duration S] [--no-profile]
//   writes bench/results/mtls.json and bench/results/mtls.md
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseRoundArgs } from "./lib/round-args.ts";
import { stopAllChildren, type BenchChild } from "./lib/children.ts";
import { cpuModel, cpuSeconds } from "./lib/proc-stats.ts";
import { errorCount, runWrk, type WrkOptions } from "./lib/wrk.ts";
import { readProfile, topCallers, topOursTotal, topSelf } from "./lib/cpuprofile.ts";
import type { ConstantRateOptions, ConstantRateResult } from "./lib/constant-rate.ts";
import { readStats, statDeltas } from "./lib/sidecar-admin.ts";
import { ADMIN_PORT, APP_PORT, CLIENT_POD, OUTBOUND_PORT, RESTART_CLIENT_REASON, SERVER_POD, modeName, startMtlsMesh, type MeshMode, type MtlsMesh } from "./lib/mtls-mesh.ts";
import { formatMtlsMarkdown, summariseSamples, wrkVersion, type MtlsBenchResult, type MtlsProfile, type Sample, type Security, type TestKind } from "./lib/mtls-report.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(REPO, "bench/results");
const CONSTANT_RATE_SCRIPT = join(REPO, "bench/lib/constant-rate.ts");

export interface MtlsBenchOptions {
  /** Each round measures plaintext, then mTLS. */
  rounds: number;
  threads: number;
  connections: number;
  warmupS: number;
  /** wrk at full speed, keep-alive. */
  durationS: number;
  /** The constant-rate run. */
  rate: number;
  rateDurationS: number;
  /**
   * A new A -> B connection per request, at a constant rate both configurations sustain (full
   * speed would leave tens of thousands of TIME_WAIT sockets on one address pair, and the
   * kernel's port search would then weigh on the faster, plaintext run).
   */
  newConnectionRate: number;
  newConnectionDurationS: number;
  profile: boolean;
  log: (line: string) => void;
}

export const defaultMtlsOptions: MtlsBenchOptions = {
  rounds: 2,
  threads: 2,
  connections: 16,
  warmupS: 2,
  durationS: 10,
  rate: 1000,
  rateDurationS: 10,
  newConnectionRate: 100,
  newConnectionDurationS: 10,
  profile: true,
  log: (l) => process.stderr.write(`mtls bench: ${l}\n`),
};

const WRK_TARGET: Omit<WrkOptions, "threads" | "connections" | "durationS"> = {
  url: `http://${CLIENT_POD}:${OUTBOUND_PORT}/`,
  requestTarget: `http://upstream:${APP_PORT}/`,
  hostHeader: `upstream:${APP_PORT}`,
};

/** Counters of sidecar B that tell how many A -> B connections and TLS handshakes a run made. */
const SERVER_COUNTERS = ["downstream_cx_total", "downstream_cx_ssl_total", "downstream_rq_total"] as const;
const CLIENT_COUNTERS = ["downstream_rq_5xx"] as const;

function runConstantRateChild(o: ConstantRateOptions): Promise<ConstantRateResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CONSTANT_RATE_SCRIPT, JSON.stringify(o)], { timeout: (o.durationS + 60) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err) reject(new Error(`constant-rate client failed: ${err.message}\n${errOut}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as ConstantRateResult);
    });
  });
}

/** Runs `load` and reads, around it, each process's CPU and sidecar B's and A's counters. */
async function measured(mesh: MtlsMesh, round: number, security: Security, test: TestKind, load: () => Promise<Omit<Sample, "round" | "security" | "test" | "cpuMsPer1000" | "connectionsAtoB" | "handshakes" | "client5xx">>): Promise<Sample> {
  const procs: BenchChild[] = [mesh.client, mesh.server, mesh.upstream];
  const [sBefore, cBefore] = [await readStats(SERVER_POD, ADMIN_PORT), await readStats(CLIENT_POD, ADMIN_PORT)];
  const cpuBefore = procs.map((p) => cpuSeconds(p.pid));
  const r = await load();
  const cpuAfter = procs.map((p) => cpuSeconds(p.pid));
  const server = statDeltas(sBefore, await readStats(SERVER_POD, ADMIN_PORT), SERVER_COUNTERS);
  const client = statDeltas(cBefore, await readStats(CLIENT_POD, ADMIN_PORT), CLIENT_COUNTERS);
  const cpuMsPer1000: Record<string, number> = {};
  procs.forEach((p, i) => (cpuMsPer1000[p.name] = ((cpuAfter[i]! - cpuBefore[i]!) * 1000 * 1000) / r.requests));
  return {
    round,
    security,
    test,
    ...r,
    cpuMsPer1000,
    connectionsAtoB: server.downstream_cx_total!,
    handshakes: server.downstream_cx_ssl_total!,
    client5xx: client.downstream_rq_5xx!,
  };
}

async function wrkLoad(o: MtlsBenchOptions, durationS: number) {
  const w = await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS });
  return {
    requests: w.requests,
    requestsPerS: w.requestsPerS,
    latency: { p50Ms: w.p50Ms, p90Ms: w.p90Ms, p99Ms: w.p99Ms, maxMs: w.maxMs, meanMs: w.meanMs },
    errors: errorCount(w),
  };
}

async function constantRateLoad(o: MtlsBenchOptions, rate: number, durationS: number) {
  const r = await runConstantRateChild({
    host: CLIENT_POD, port: OUTBOUND_PORT, target: WRK_TARGET.requestTarget!, hostHeader: WRK_TARGET.hostHeader!,
    connections: o.connections, rate, durationS,
  });
  return {
    requests: r.completed,
    requestsPerS: r.achievedRps,
    latency: r.service,
    corrected: r.corrected,
    errors: r.errors.connect + r.errors.read + r.errors.timeout + r.non2xx,
  };
}

function logSample(o: MtlsBenchOptions, s: Sample): void {
  const cpu = Object.entries(s.cpuMsPer1000).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
  o.log(`round ${s.round} ${s.security} ${s.test}: ${Math.round(s.requestsPerS)} req/s, p50 ${s.latency.p50Ms.toFixed(2)} ms, p99 ${s.latency.p99Ms.toFixed(2)} ms; ` +
    `CPU ms/1000 req: ${cpu}; A->B connections ${s.connectionsAtoB}, TLS handshakes ${s.handshakes}${s.errors || s.client5xx ? `; ERRORS ${s.errors}, 5xx at A ${s.client5xx}` : ""}`);
}

async function measureSecurity(mesh: MtlsMesh, o: MtlsBenchOptions, round: number, security: Security): Promise<Sample[]> {
  const out: Sample[] = [];
  const keep: MeshMode = { security, newConnectionPerRequest: false };
  await mesh.applyMode(keep);
  if (o.warmupS > 0) await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS: o.warmupS });
  out.push(await measured(mesh, round, security, "throughput", () => wrkLoad(o, o.durationS)));
  out.push(await measured(mesh, round, security, "constant-rate", () => constantRateLoad(o, o.rate, o.rateDurationS)));
  await mesh.applyMode({ security, newConnectionPerRequest: true });
  out.push(await measured(mesh, round, security, "new-connection", () => constantRateLoad(o, o.newConnectionRate, o.newConnectionDurationS)));
  for (const s of out) logSample(o, s);
  return out;
}

function profileFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return join(dir, files[0]!);
}

/** Sidecar B restarted under --cpu-prof, mTLS keep-alive load at full speed, then restarted plainly. */
async function profileServer(mesh: MtlsMesh, o: MtlsBenchOptions): Promise<MtlsProfile> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-mtls-prof-"));
  try {
    await mesh.applyMode({ security: "mtls", newConnectionPerRequest: false });
    await mesh.restartSidecar("server", dir);
    if (o.warmupS > 0) await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS: o.warmupS });
    const before = await readStats(SERVER_POD, ADMIN_PORT);
    const w = await wrkLoad(o, o.durationS);
    const handshakes = statDeltas(before, await readStats(SERVER_POD, ADMIN_PORT), ["downstream_cx_ssl_total"]).downstream_cx_ssl_total!;
    await mesh.restartSidecar("server");
    const summary = readProfile(profileFile(dir), REPO, "/src/proxy/");
    const { functions: _all, nativeCallers: _callers, ...totals } = summary;
    const top = topSelf(summary, 15);
    const natives = top.filter((f) => !f.location && !f.name.startsWith("(")).slice(0, 3);
    o.log(`profiled sidecar B under mTLS keep-alive load: ${Math.round(w.requestsPerS)} req/s, busy ${Math.round(summary.busyMs)} of ${Math.round(summary.sampledMs)} ms`);
    return {
      sidecar: "sidecar B (server)", load: "mTLS, keep-alive, wrk at full speed", requests: w.requests, requestsPerS: w.requestsPerS, handshakes,
      summary: totals, topSelf: top, topOursTotal: topOursTotal(summary, 10),
      nativeCallers: natives.map((f) => ({ native: f.name, callers: topCallers(summary, f.name, 3) })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runMtlsBench(opts: Partial<MtlsBenchOptions> = {}): Promise<MtlsBenchResult> {
  const o = { ...defaultMtlsOptions, ...opts };
  const wrk = wrkVersion();
  if (!wrk) throw new Error("wrk is not installed; install it (Debian/Ubuntu: apt-get install -y wrk) and run again");
  const machine = { date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpuModel(), node: process.version, wrk, kernel: release(), loadStart: loadavg()[0]! };
  const started = Date.now();
  let mesh: MtlsMesh | undefined;
  try {
    mesh = await startMtlsMesh({ security: "plaintext", newConnectionPerRequest: false }, o.log);
    const samples: Sample[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const security of ["plaintext", "mtls"] as const) {
        o.log(`round ${round}: ${modeName({ security, newConnectionPerRequest: false })}`);
        samples.push(...(await measureSecurity(mesh, o, round, security)));
      }
    }
    const profile = o.profile ? await profileServer(mesh, o) : undefined;
    return {
      machine: { ...machine, loadEnd: loadavg()[0]! },
      config: {
        rounds: o.rounds, threads: o.threads, connections: o.connections, warmupS: o.warmupS, durationS: o.durationS,
        rate: o.rate, rateDurationS: o.rateDurationS, newConnectionRate: o.newConnectionRate, newConnectionDurationS: o.newConnectionDurationS, bodyBytes: 1024,
        clientRestartedOnSecurityChange: RESTART_CLIENT_REASON,
      },
      summary: summariseSamples(samples, { "constant-rate": o.rate, "new-connection": o.newConnectionRate }),
      samples,
      ...(profile ? { profile } : {}),
      elapsedS: (Date.now() - started) / 1000,
    };
  } finally {
    if (mesh) await mesh.close();
    await stopAllChildren();
  }
}

/** `--duration S` sets every run's length (keep-alive, constant rate, new connections). */
function optionsFromArgs(args: string[]): Partial<MtlsBenchOptions> {
  const { durationS, ...rest } = parseRoundArgs(args);
  return durationS === undefined ? rest : { ...rest, durationS, rateDurationS: durationS, newConnectionDurationS: durationS };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runMtlsBench(optionsFromArgs(process.argv.slice(2)));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "mtls.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS, "mtls.md"), formatMtlsMarkdown(result));
  defaultMtlsOptions.log(`done in ${Math.round(result.elapsedS)} s; wrote bench/results/mtls.json and bench/results/mtls.md`);
}
