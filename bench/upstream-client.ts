// Node's HTTP client against the lean one (MIZZEN_UPSTREAM_CLIENT=node|lean) in the sidecars,
// side by side in one run: load client -> sidecar A -> (mTLS, keep-alive) -> sidecar B -> upstream.
// Each round restarts both sidecars with one client, then the other (the order alternates per
// round), and measures CPU per request of each sidecar at a constant 1000 req/s and the most
// wrk can push. Then, unless --no-profile, sidecar A runs the lean client under --cpu-prof at
// 1000 req/s.
//
//   npx node bench/upstream-client.ts [--rounds N] [--duration S] [--no-profile]
//   writes bench/results/upstream-client.json and bench/results/upstream-client.md
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseRoundArgs } from "./lib/round-args.ts";
import { stopAllChildren } from "./lib/children.ts";
import { cpuSeconds } from "./lib/proc-stats.ts";
import { errorCount, runWrk, type WrkOptions } from "./lib/wrk.ts";
import { readProfile, topSelf, type FunctionTime } from "./lib/cpuprofile.ts";
import type { ConstantRateOptions, ConstantRateResult } from "./lib/constant-rate.ts";
import { APP_PORT, CLIENT_POD, OUTBOUND_PORT, startMtlsMesh, type MtlsMesh } from "./lib/mtls-mesh.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(REPO, "bench/results");
const CONSTANT_RATE_SCRIPT = join(REPO, "bench/lib/constant-rate.ts");
const CLIENTS = ["node", "lean"] as const;
type Client = (typeof CLIENTS)[number];

const WRK_TARGET: Omit<WrkOptions, "threads" | "connections" | "durationS"> = {
  url: `http://${CLIENT_POD}:${OUTBOUND_PORT}/`,
  requestTarget: `http://upstream:${APP_PORT}/`,
  hostHeader: `upstream:${APP_PORT}`,
};

interface Options {
  rounds: number;
  durationS: number;
  warmupS: number;
  rate: number;
  connections: number;
  threads: number;
  profile: boolean;
}

interface Sample {
  round: number;
  client: Client;
  test: "constant-rate" | "throughput";
  requests: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU microseconds per request, per sidecar. */
  cpuUsPerRequest: { sidecarA: number; sidecarB: number };
}

const log = (l: string): void => void process.stderr.write(`upstream-client bench: ${l}\n`);

function runConstantRateChild(o: ConstantRateOptions): Promise<ConstantRateResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CONSTANT_RATE_SCRIPT, JSON.stringify(o)], { timeout: (o.durationS + 60) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err) reject(new Error(`constant-rate client failed: ${err.message}\n${errOut}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as ConstantRateResult);
    });
  });
}

/** Restarts both sidecars with the client chosen (they inherit this process's environment). */
async function useClient(mesh: MtlsMesh, client: Client, profileDir?: string): Promise<void> {
  process.env.MIZZEN_UPSTREAM_CLIENT = client;
  await mesh.restartSidecar("server");
  await mesh.restartSidecar("client", profileDir);
}

async function measure(mesh: MtlsMesh, round: number, client: Client, test: Sample["test"], o: Options): Promise<Sample> {
  const a = mesh.client.pid;
  const b = mesh.server.pid;
  const [a0, b0] = [cpuSeconds(a), cpuSeconds(b)];
  let r: Omit<Sample, "round" | "client" | "test" | "cpuUsPerRequest">;
  if (test === "constant-rate") {
    const c = await runConstantRateChild({ host: CLIENT_POD, port: OUTBOUND_PORT, target: WRK_TARGET.requestTarget!, hostHeader: WRK_TARGET.hostHeader!, connections: o.connections, rate: o.rate, durationS: o.durationS });
    r = { requests: c.completed, requestsPerS: c.achievedRps, p50Ms: c.service.p50Ms, p99Ms: c.service.p99Ms, errors: c.errors.connect + c.errors.read + c.errors.timeout + c.non2xx };
  } else {
    const w = await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS: o.durationS });
    r = { requests: w.requests, requestsPerS: w.requestsPerS, p50Ms: w.p50Ms, p99Ms: w.p99Ms, errors: errorCount(w) };
  }
  const perReq = (s0: number, pid: number) => ((cpuSeconds(pid) - s0) * 1e6) / Math.max(1, r.requests);
  const s: Sample = { round, client, test, ...r, cpuUsPerRequest: { sidecarA: perReq(a0, a), sidecarB: perReq(b0, b) } };
  log(`round ${round} ${client} ${test}: ${Math.round(s.requestsPerS)} req/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, ` +
    `CPU µs/req A ${s.cpuUsPerRequest.sidecarA.toFixed(0)}, B ${s.cpuUsPerRequest.sidecarB.toFixed(0)}${s.errors ? `, ERRORS ${s.errors}` : ""}`);
  return s;
}

async function profileLean(mesh: MtlsMesh, o: Options): Promise<FunctionTime[]> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-upstream-client-prof-"));
  try {
    await useClient(mesh, "lean", dir);
    await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS: o.warmupS });
    await runConstantRateChild({ host: CLIENT_POD, port: OUTBOUND_PORT, target: WRK_TARGET.requestTarget!, hostHeader: WRK_TARGET.hostHeader!, connections: o.connections, rate: o.rate, durationS: o.durationS });
    await mesh.restartSidecar("client"); // SIGTERM: node writes the profile
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
    return topSelf(readProfile(join(dir, files[0]!), REPO, "/src/proxy/"), 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function markdown(samples: Sample[], o: Options, machine: Record<string, unknown>, profile: FunctionTime[] | undefined): string {
  const out: string[] = [
    "# Upstream HTTP/1.1 client: Node's http.request against the lean client",
    "",
    "Generated by `npm run bench:upstream-client` (bench/upstream-client.ts). Path: load client -> sidecar A -> mTLS keep-alive -> sidecar B -> upstream (1 KiB answers).",
    `Both sidecars restarted per variant with MIZZEN_UPSTREAM_CLIENT=node|lean; ${o.rounds} rounds, order alternating; ${o.durationS} s per measurement, ${o.connections} connections.`,
    `Machine: ${JSON.stringify(machine)}`,
    "",
    "## Per round",
    "",
    "| round | client | test | req/s | p50 ms | p99 ms | CPU µs/req sidecar A | CPU µs/req sidecar B | errors |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const s of samples) {
    out.push(`| ${s.round} | ${s.client} | ${s.test} | ${Math.round(s.requestsPerS)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${s.cpuUsPerRequest.sidecarA.toFixed(0)} | ${s.cpuUsPerRequest.sidecarB.toFixed(0)} | ${s.errors} |`);
  }
  out.push("", "## Medians (lean / node)", "", "| test | metric | node | lean | lean / node |", "|---|---|---|---|---|");
  for (const test of ["constant-rate", "throughput"] as const) {
    const pick = (c: Client, f: (s: Sample) => number) => median(samples.filter((s) => s.client === c && s.test === test).map(f));
    const rows: [string, (s: Sample) => number][] = [
      ["CPU µs/req sidecar A", (s) => s.cpuUsPerRequest.sidecarA],
      ["CPU µs/req sidecar B", (s) => s.cpuUsPerRequest.sidecarB],
      ["req/s", (s) => s.requestsPerS],
      ["p99 ms", (s) => s.p99Ms],
    ];
    for (const [name, f] of rows) {
      const n = pick("node", f);
      const l = pick("lean", f);
      out.push(`| ${test} | ${name} | ${n.toFixed(name.startsWith("p99") ? 2 : 0)} | ${l.toFixed(name.startsWith("p99") ? 2 : 0)} | ${(l / n).toFixed(2)} |`);
    }
  }
  if (profile) {
    out.push("", `## Sidecar A with the lean client under --cpu-prof (${o.rate} req/s, mTLS): top self time`, "", "| function | self ms |", "|---|---|");
    for (const f of profile) out.push(`| ${f.name} ${f.location} | ${f.selfMs.toFixed(0)} |`);
  }
  return out.join("\n") + "\n";
}

export async function runUpstreamClientBench(o: Options): Promise<void> {
  const machine = { date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadStart: loadavg()[0] };
  let mesh: MtlsMesh | undefined;
  const samples: Sample[] = [];
  let profile: FunctionTime[] | undefined;
  try {
    process.env.MIZZEN_UPSTREAM_CLIENT = "node";
    mesh = await startMtlsMesh({ security: "mtls", newConnectionPerRequest: false }, log);
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? CLIENTS : ([...CLIENTS].reverse() as Client[]);
      for (const client of order) {
        await useClient(mesh, client);
        await runWrk({ ...WRK_TARGET, threads: o.threads, connections: o.connections, durationS: o.warmupS });
        samples.push(await measure(mesh, round, client, "constant-rate", o));
        samples.push(await measure(mesh, round, client, "throughput", o));
      }
    }
    if (o.profile) profile = await profileLean(mesh, o);
  } finally {
    await mesh?.close();
    await stopAllChildren();
  }
  mkdirSync(RESULTS, { recursive: true });
  const m = { ...machine, loadEnd: loadavg()[0] };
  writeFileSync(join(RESULTS, "upstream-client.json"), JSON.stringify({ machine: m, options: o, samples, profile }, null, 2) + "\n");
  writeFileSync(join(RESULTS, "upstream-client.md"), markdown(samples, o, m, profile));
  log(`wrote bench/results/upstream-client.md`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = parseRoundArgs(process.argv.slice(2));
  runUpstreamClientBench({ rounds: a.rounds ?? 3, durationS: a.durationS ?? 10, warmupS: 2, rate: 1000, connections: 16, threads: 2, profile: a.profile ?? true }).catch(async (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    await stopAllChildren();
    process.exit(1);
  });
}
