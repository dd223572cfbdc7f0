// Where Mizzen stands (issue 6), in one run, side by side:
//   data plane   direct vs two Mizzen sidecars with mTLS vs two HAProxy instances with mTLS,
//                latency at a constant 1000 req/s, throughput with wrk, CPU and memory per proxy;
//   control plane simulated sidecars x services: time for a change to reach every proxy, CPU,
//                memory and bytes per change;
//   diagnostics  a CPU profile of the client-side sidecar at 1000 req/s with mTLS, a heap
//                snapshot of an idle sidecar.
//
//   npx node bench/issue6.ts [--rounds N] [--duration S] [--grid 100x100,1000x1000] [--changes N]
//                            [--no-data-plane] [--no-control-plane] [--no-diagnostics] [--report-only]
//   writes bench/results/issue6.json and bench/results/issue6.md (--report-only: the .md from the .json)
import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { request } from "node:http";
import { execFileSync } from "node:child_process";
import { stopAllChildren } from "./lib/children.ts";
import { cpuModel } from "./lib/proc-stats.ts";
import { wrkVersion } from "./lib/mtls-report.ts";
import { APP_HOST, APP_PORT, CLIENT_POD, OUTBOUND_PORT, SERVER_POD, startMtlsMesh, type MtlsMesh } from "./lib/mtls-mesh.ts";
import { haproxyVersion, startHaproxyPair, type HaproxyPair } from "./lib/haproxy-pair.ts";
import { comparePaths, proxyMemory, type CompareOptions, type PathTarget } from "./lib/data-plane-compare.ts";
import { runControlScale, type ScalePoint } from "./lib/control-scale.ts";
import { idleSidecarHeap, profileClientSidecar } from "./lib/sidecar-diagnostics.ts";
import { runConstantRate } from "./lib/constant-rate.ts";
import { headline, pathFigures, targetVerdicts } from "./lib/issue6-summary.ts";
import { formatIssue6Markdown, type Issue6Result } from "./lib/issue6-report.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const log = (line: string) => process.stderr.write(`issue6 bench: ${line}\n`);

/** The commit measured, and how many files of the work tree differed from it (other work in progress is measured too). */
function source(): { commit: string; changedFiles: number } {
  try {
    const git = (args: string[]) => execFileSync("git", args, { cwd: fileURLToPath(new URL("..", import.meta.url)), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return { commit: git(["rev-parse", "--short", "HEAD"]).trim(), changedFiles: git(["status", "--porcelain", "--", "src"]).split("\n").filter(Boolean).length };
  } catch {
    return { commit: "unknown", changedFiles: 0 };
  }
}

// Our loopback /24s: the mTLS mesh uses 127.140 (bench/lib/mtls-mesh.ts), HAProxy 127.141,
// the control-plane grid 127.142 (its simulated proxies' node addresses 127.145, workloads 127.144).
const HAPROXY = { front: { host: "127.141.1.2", port: 15001 }, back: { host: "127.141.1.1", port: 8443 } };
const IDLE_POD = "127.141.1.3";

export interface Issue6Options {
  rounds: number;
  durationS: number;
  /** Seconds of constant-rate load on each path before round 1 (JIT tiering in the sidecars). */
  warmupS: number;
  grid: ScalePoint[];
  changes: number;
  dataPlane: boolean;
  controlPlane: boolean;
  diagnostics: boolean;
}

export const defaultGrid: ScalePoint[] = [
  ...[100, 500, 1000, 2000].flatMap((proxies) => [100, 1000].map((services) => ({ proxies, services }))),
  { proxies: 2000, services: 2000 },
];

const defaults: Issue6Options = { rounds: 5, durationS: 10, warmupS: 15, grid: defaultGrid, changes: 3, dataPlane: true, controlPlane: true, diagnostics: true };

function parseGrid(s: string): ScalePoint[] {
  return s.split(",").map((p) => {
    const m = /^(\d+)x(\d+)$/.exec(p.trim());
    if (!m) throw new Error(`--grid takes PROXIESxSERVICES pairs separated by commas (e.g. 100x100,1000x1000), not "${p}"`);
    return { proxies: Number(m[1]), services: Number(m[2]) };
  });
}

export function optionsFromArgs(args: string[]): Issue6Options & { reportOnly: boolean } {
  const o = { ...defaults, reportOnly: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    const n = Number(v);
    if (a === "--rounds" && Number.isInteger(n) && n > 0) (o.rounds = n), i++;
    else if (a === "--duration" && n > 0) (o.durationS = n), i++;
    else if (a === "--warmup" && n >= 0) (o.warmupS = n), i++;
    else if (a === "--changes" && Number.isInteger(n) && n > 0) (o.changes = n), i++;
    else if (a === "--grid" && v) (o.grid = parseGrid(v)), i++;
    else if (a === "--no-data-plane") o.dataPlane = false;
    else if (a === "--no-control-plane") o.controlPlane = false;
    else if (a === "--no-diagnostics") o.diagnostics = false;
    else if (a === "--report-only") o.reportOnly = true;
    else throw new Error(`unknown argument ${a}; see the comment at the top of bench/issue6.ts`);
  }
  return o;
}

function getText(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(""));
    req.end();
  });
}

async function dataPlane(o: Issue6Options, result: Issue6Result): Promise<void> {
  let mesh: MtlsMesh | undefined;
  let pair: HaproxyPair | undefined;
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-issue6-haproxy-"));
  try {
    mesh = await startMtlsMesh({ security: "mtls", newConnectionPerRequest: false }, log);
    pair = await startHaproxyPair({ ...HAPROXY, upstream: { host: APP_HOST, port: APP_PORT }, serverName: "upstream.default.svc.cluster.local" }, dir);
    const m = mesh;
    const p = pair;
    const proxied = { target: `http://upstream:${APP_PORT}/`, hostHeader: `upstream:${APP_PORT}` };
    const targets: PathTarget[] = [
      { name: "direct", description: "load client -> upstream", host: APP_HOST, port: APP_PORT, target: "/", hostHeader: `${APP_HOST}:${APP_PORT}`, proxies: () => [] },
      { name: "mizzen", description: "load client -> Mizzen sidecar A (outbound :15001) =mTLS=> Mizzen sidecar B (inbound) -> upstream", host: CLIENT_POD, port: OUTBOUND_PORT, ...proxied, proxies: () => [m.client, m.server] },
      { name: "haproxy", description: "load client -> HAProxy 1 =mTLS=> HAProxy 2 -> upstream", host: HAPROXY.front.host, port: HAPROXY.front.port, ...proxied, proxies: () => [p.front, p.back] },
    ];
    const co: CompareOptions = { rounds: o.rounds, rate: 1000, rateDurationS: o.durationS, connections: 16, wrkThreads: 2, wrkDurationS: o.durationS, warmupS: o.warmupS, log };
    const metricsText = await getText(`http://${CLIENT_POD}:15090/stats/prometheus`);
    const samples = await comparePaths(targets, m.upstream, co);
    const endMemory = proxyMemory(targets);
    const afterText = await getText(`http://${SERVER_POD}:15090/stats/prometheus`);
    result.dataPlane = {
      config: { ...co, log: undefined, bodyBytes: 1024, haproxy: haproxyVersion() ?? "?", paths: targets.map((t) => ({ name: t.name, description: t.description })) },
      metricsOn: metricsText.includes("istio_requests_total") || afterText.includes("istio_requests_total"),
      samples,
      paths: pathFigures(samples, targets.map((t) => t.name)),
      headline: headline(samples, endMemory),
    };
    if (o.diagnostics) {
      const load = (durationS: number) => async () => {
        const r = await runConstantRate({ host: CLIENT_POD, port: OUTBOUND_PORT, ...proxied, connections: 16, rate: 1000, durationS });
        return r.completed;
      };
      log("profiling sidecar A at 1000 req/s with mTLS");
      try {
        result.profile = await profileClientSidecar(m, load(o.warmupS), load(Math.max(10, o.durationS)), `a ${o.warmupS} s warm-up, then mTLS, keep-alive, constant 1000 req/s on 16 connections, ${Math.max(10, o.durationS)} s`);
        log(`profile: busy ${Math.round(result.profile.summary.busyMs)} ms of ${Math.round(result.profile.summary.sampledMs)} ms for ${result.profile.requests} requests`);
      } catch (err) {
        result.failures.push({ bench: "cpu profile", error: (err as Error).message });
      }
      log("heap snapshot of an idle sidecar");
      try {
        result.idleHeap = await idleSidecarHeap(m, IDLE_POD, 15000, 5000);
        log(`idle sidecar: RSS ${Math.round(result.idleHeap.memory.rssKb / 1024)} MiB, JS heap in snapshot ${(result.idleHeap.heap.totalBytes / 2 ** 20).toFixed(1)} MiB`);
      } catch (err) {
        result.failures.push({ bench: "heap snapshot", error: (err as Error).message });
      }
    }
  } finally {
    await pair?.close();
    await mesh?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runIssue6(o: Issue6Options): Promise<Issue6Result> {
  const wrk = wrkVersion();
  if (o.dataPlane && !wrk) throw new Error("wrk is not installed; install it (Debian/Ubuntu: apt-get install -y wrk) and run again");
  if (o.dataPlane && !haproxyVersion()) throw new Error("haproxy is not installed; install it (Debian/Ubuntu: apt-get install -y haproxy) and run again");
  const started = Date.now();
  const result: Issue6Result = {
    machine: { date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpuModel(), node: process.version, wrk: wrk ?? "-", kernel: release(), loadStart: loadavg()[0]!, ...source() },
    failures: [],
    targets: [],
    elapsedS: 0,
  };
  if (o.dataPlane) {
    try {
      log("data plane: direct, Mizzen (mTLS), HAProxy (mTLS)");
      await dataPlane(o, result);
    } catch (err) {
      result.failures.push({ bench: "data plane", error: (err as Error).message });
      log(`data plane failed: ${(err as Error).message}`);
    }
    await stopAllChildren();
  }
  if (o.controlPlane) {
    log(`control plane: ${o.grid.map((p) => `${p.proxies}x${p.services}`).join(", ")} (proxies x services), ${o.changes} changes each`);
    const scale = await runControlScale(o.grid, { changes: o.changes, pauseMs: 1000, initialTimeoutMs: 600_000, changeTimeoutMs: 180_000, log });
    result.controlPlane = { changes: o.changes, results: scale.results };
    for (const f of scale.failures) result.failures.push({ bench: `control plane ${f.point.proxies}x${f.point.services}`, error: f.error });
  }
  result.targets = targetVerdicts(result.dataPlane?.headline ?? { addedLatency: {}, perCoreRatio: NaN, perCoreRatioPerRound: [], rawThroughputRatio: NaN, vcpuAt1000: [], memory: [] }, result.controlPlane?.results ?? []);
  result.machine.loadEnd = loadavg()[0]!;
  result.elapsedS = (Date.now() - started) / 1000;
  return result;
}

export function writeIssue6(result: Issue6Result): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "issue6.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS, "issue6.md"), formatIssue6Markdown(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = optionsFromArgs(process.argv.slice(2));
  if (o.reportOnly) {
    const result = JSON.parse(readFileSync(join(RESULTS, "issue6.json"), "utf8")) as Issue6Result;
    writeFileSync(join(RESULTS, "issue6.md"), formatIssue6Markdown(result));
    log("wrote bench/results/issue6.md from issue6.json");
  } else {
    const result = await runIssue6(o);
    writeIssue6(result);
    log(`done in ${Math.round(result.elapsedS)} s; wrote bench/results/issue6.json and issue6.md`);
    process.exitCode = result.failures.length ? 1 : 0;
  }
  // grpc channels of the simulated proxies may keep the loop alive a moment; nothing is left to do.
  await stopAllChildren();
  process.exit();
}
