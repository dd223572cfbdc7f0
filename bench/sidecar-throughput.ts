// Sidecar throughput, latency, CPU and memory, side by side in one run:
//   direct    wrk -> upstream
//   inbound   wrk -> sidecar inbound listener (podIP:8080) -> upstream
//   outbound  wrk -> client sidecar's explicit proxy (15001, absolute-form URI)
//                 -> upstream's sidecar inbound -> upstream
// The control plane runs in this process (startControl); the upstream and both sidecars are
// child processes, the sidecars exactly as `mizzen up` starts them. Then the same loads again
// with one sidecar at a time under `node --cpu-prof`, summarised per function.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startControl, type ControlPlane } from "../src/control/main.ts";
import { sidecarNodeFlags } from "../src/run/stripped-modules.ts";
import { answers, listening, startChild, statusViaProxy, stopAllChildren, waitFor, type BenchChild } from "./lib/children.ts";
import { cpuSeconds, ioCounts, memoryKb, type MemoryKb } from "./lib/proc-stats.ts";
import { errorCount, runWrk, type WrkOptions, type WrkResult } from "./lib/wrk.ts";
import { readProfile, topCallers, topOursTotal, topSelf, type FunctionTime, type ProfileSummary, type SidecarProfile } from "./lib/cpuprofile.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
const UPSTREAM_SCRIPT = join(REPO, "bench/upstream-server.ts");

// Our own loopback /24s: pods on 127.99.1.n, the application on 127.99.2.1.
const SERVER_POD = "127.99.1.1";
const CLIENT_POD = "127.99.1.2";
const APP_HOST = "127.99.2.1";
const APP_PORT = 8080;
const ADMIN_PORT = 15000;
const OUTBOUND_PORT = 15001;

const SERVICE_YAML = `apiVersion: v1
kind: Service
metadata:
  name: upstream
  namespace: default
spec:
  selector:
    app: upstream
  ports:
  - name: http
    port: ${APP_PORT}
`;

export interface ThroughputOptions {
  durationS: number;
  warmupS: number;
  threads: number;
  connections: number;
  /** Also run the --cpu-prof passes (default true). */
  profile: boolean;
  log: (line: string) => void;
}

export const defaultThroughputOptions: ThroughputOptions = {
  durationS: 10,
  warmupS: 2,
  threads: 2,
  connections: 16,
  profile: true,
  log: (l) => process.stderr.write(`${l}\n`),
};

export interface PathResult {
  path: "direct" | "inbound" | "outbound";
  description: string;
  wrk: WrkResult;
  /** requests/s of this path divided by direct's. */
  throughputRatio: number;
  /** p50 latency of this path divided by direct's. */
  p50Ratio: number;
  /** CPU seconds per 1000 requests of each process on the path, measured from /proc. */
  cpuPer1000: Record<string, number>;
  /** read and write system calls per request of each process on the path (/proc/<pid>/io). */
  syscallsPerRequest: Record<string, { reads: number; writes: number }>;
}

export interface SidecarMemory {
  sidecar: string;
  idle: MemoryKb;
  afterLoad: MemoryKb;
}

export interface ThroughputResult {
  config: { durationS: number; warmupS: number; threads: number; connections: number; bodyBytes: number };
  paths: PathResult[];
  memory: SidecarMemory[];
  profiles: SidecarProfile[];
}

interface Mesh {
  control: ControlPlane;
  upstream: BenchChild;
  server: BenchChild;
  client: BenchChild;
  configDir: string;
}

function sidecarArgs(xdsPort: number, pod: "server" | "client", profileDir?: string): string[] {
  const node = [...sidecarNodeFlags(), ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
  const common = ["--xds", `127.0.0.1:${xdsPort}`, "--admin-port", String(ADMIN_PORT), "--namespace", "default"];
  const who = pod === "server"
    ? ["--ip", SERVER_POD, "--name", "upstream-v1", "--labels", "app=upstream,version=v1", "--ports", `http:${APP_PORT}`, "--app-address", APP_HOST]
    : ["--ip", CLIENT_POD, "--name", "client", "--labels", "app=client"];
  return [...node, CLI, "proxy", ...common, ...who];
}

function startSidecar(xdsPort: number, pod: "server" | "client", profileDir?: string): BenchChild {
  // Text logs and no access log (the control plane runs with accessLog: false): we measure
  // the forwarding path, not the terminal.
  return startChild(`${pod} sidecar`, process.execPath, sidecarArgs(xdsPort, pod, profileDir), { ...process.env, MIZZEN_LOG_FORMAT: "text" });
}

async function waitServerSidecar(child: BenchChild): Promise<void> {
  await waitFor("the server sidecar's admin /ready", () => answers(`http://${SERVER_POD}:${ADMIN_PORT}/ready`), 30_000, child);
  await waitFor("the server sidecar's inbound listener to reach the app", () => answers(`http://${SERVER_POD}:${APP_PORT}/`), 30_000, child);
}

async function waitClientSidecar(child: BenchChild): Promise<void> {
  await waitFor("the client sidecar's admin /ready", () => answers(`http://${CLIENT_POD}:${ADMIN_PORT}/ready`), 30_000, child);
  await waitFor("a route from the client sidecar to upstream:8080", async () => (await statusViaProxy(CLIENT_POD, OUTBOUND_PORT, `http://upstream:${APP_PORT}/`)) === 200, 30_000, child);
}

async function checkFree(): Promise<void> {
  for (const [h, p] of [[SERVER_POD, ADMIN_PORT], [SERVER_POD, APP_PORT], [SERVER_POD, OUTBOUND_PORT], [CLIENT_POD, ADMIN_PORT], [CLIENT_POD, OUTBOUND_PORT], [APP_HOST, APP_PORT]] as const) {
    if (await listening(h, p)) throw new Error(`${h}:${p} is already in use (another benchmark running?); stop it and run again`);
  }
}

async function startMesh(log: (l: string) => void): Promise<Mesh> {
  await checkFree();
  const configDir = mkdtempSync(join(tmpdir(), "mizzen-bench-throughput-"));
  writeFileSync(join(configDir, "upstream.yaml"), SERVICE_YAML);
  const control = await startControl({ configDir, xds: { host: "127.0.0.1", port: 0 }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false });
  log(`control plane in-process, xDS on 127.0.0.1:${control.xdsPort}`);
  const upstream = startChild("upstream", process.execPath, [UPSTREAM_SCRIPT], { ...process.env, HOST: APP_HOST, PORT: String(APP_PORT) });
  await waitFor("the upstream to listen", () => answers(`http://${APP_HOST}:${APP_PORT}/`), 15_000, upstream);
  const server = startSidecar(control.xdsPort, "server");
  const client = startSidecar(control.xdsPort, "client");
  await waitServerSidecar(server);
  await waitClientSidecar(client);
  return { control, upstream, server, client, configDir };
}

interface Load {
  path: PathResult["path"];
  description: string;
  wrk: Omit<WrkOptions, "threads" | "connections" | "durationS">;
}

const LOADS: Load[] = [
  { path: "direct", description: "wrk -> upstream", wrk: { url: `http://${APP_HOST}:${APP_PORT}/` } },
  { path: "inbound", description: "wrk -> sidecar inbound -> upstream", wrk: { url: `http://${SERVER_POD}:${APP_PORT}/` } },
  {
    path: "outbound",
    description: "wrk -> client sidecar outbound -> server sidecar inbound -> upstream",
    wrk: { url: `http://${CLIENT_POD}:${OUTBOUND_PORT}/`, requestTarget: `http://upstream:${APP_PORT}/`, hostHeader: `upstream:${APP_PORT}` },
  },
];

function wrkOptions(load: Load, o: ThroughputOptions, durationS: number): WrkOptions {
  return { ...load.wrk, threads: o.threads, connections: o.connections, durationS };
}

type Measured = Pick<PathResult, "wrk" | "cpuPer1000" | "syscallsPerRequest">;

async function measure(load: Load, o: ThroughputOptions, procs: BenchChild[]): Promise<Measured> {
  if (o.warmupS > 0) await runWrk(wrkOptions(load, o, o.warmupS));
  const before = procs.map((p) => ({ cpu: cpuSeconds(p.pid), io: ioCounts(p.pid) }));
  const wrk = await runWrk(wrkOptions(load, o, o.durationS));
  const cpuPer1000: Record<string, number> = {};
  const syscallsPerRequest: Record<string, { reads: number; writes: number }> = {};
  procs.forEach((p, i) => {
    const io = ioCounts(p.pid);
    cpuPer1000[p.name] = ((cpuSeconds(p.pid) - before[i]!.cpu) / wrk.requests) * 1000;
    syscallsPerRequest[p.name] = { reads: (io.readCalls - before[i]!.io.readCalls) / wrk.requests, writes: (io.writeCalls - before[i]!.io.writeCalls) / wrk.requests };
  });
  const errors = errorCount(wrk);
  o.log(`${load.path}: ${Math.round(wrk.requestsPerS)} req/s, p50 ${wrk.p50Ms.toFixed(2)} ms, p99 ${wrk.p99Ms.toFixed(2)} ms${errors ? `, ${errors} ERRORS ${JSON.stringify(wrk.errors)}` : ""}`);
  return { wrk, cpuPer1000, syscallsPerRequest };
}

function profileFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return join(dir, files[0]!);
}

/** One load with one sidecar restarted under --cpu-prof; the other sidecar runs normally. */
async function profiledRun(mesh: Mesh, which: "server" | "client", load: Load, o: ThroughputOptions): Promise<SidecarProfile> {
  const dir = mkdtempSync(join(tmpdir(), `mizzen-bench-prof-${which}-`));
  try {
    await mesh[which].stop();
    mesh[which] = startSidecar(mesh.control.xdsPort, which, dir);
    await waitServerSidecar(mesh.server);
    await waitClientSidecar(mesh.client);
    if (o.warmupS > 0) await runWrk(wrkOptions(load, o, o.warmupS));
    const wrk = await runWrk(wrkOptions(load, o, o.durationS));
    await mesh[which].stop(); // SIGTERM: the sidecar exits cleanly and node writes the profile
    const summary = readProfile(profileFile(dir), REPO, "/src/proxy/");
    mesh[which] = startSidecar(mesh.control.xdsPort, which);
    const { functions: _all, nativeCallers: _callers, ...totals } = summary;
    const top = topSelf(summary, 15);
    const natives = top.filter((f) => !f.location && !f.name.startsWith("(")).slice(0, 3);
    o.log(`profiled ${which} sidecar under ${load.path} load: ${Math.round(wrk.requestsPerS)} req/s, busy ${Math.round(summary.busyMs)} of ${Math.round(summary.sampledMs)} ms`);
    return { sidecar: `${which} sidecar`, load: load.path, requests: wrk.requests, summary: totals, topSelf: top, topOursTotal: topOursTotal(summary, 10),
      nativeCallers: natives.map((f) => ({ native: f.name, callers: topCallers(summary, f.name, 3) })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSidecarThroughput(opts: Partial<ThroughputOptions> = {}): Promise<ThroughputResult> {
  const o = { ...defaultThroughputOptions, ...opts };
  let mesh: Mesh | undefined;
  try {
    mesh = await startMesh(o.log);
    const idle = { server: memoryKb(mesh.server.pid), client: memoryKb(mesh.client.pid) };
    const paths: PathResult[] = [];
    const procsFor: Record<Load["path"], BenchChild[]> = {
      direct: [mesh.upstream],
      inbound: [mesh.server, mesh.upstream],
      outbound: [mesh.client, mesh.server, mesh.upstream],
    };
    for (const load of LOADS) {
      const { wrk, cpuPer1000, syscallsPerRequest } = await measure(load, o, procsFor[load.path]);
      const direct = paths[0]?.wrk ?? wrk;
      paths.push({ path: load.path, description: load.description, wrk, cpuPer1000, syscallsPerRequest, throughputRatio: wrk.requestsPerS / direct.requestsPerS, p50Ratio: wrk.p50Ms / direct.p50Ms });
    }
    const memory: SidecarMemory[] = [
      { sidecar: "server sidecar", idle: idle.server, afterLoad: memoryKb(mesh.server.pid) },
      { sidecar: "client sidecar", idle: idle.client, afterLoad: memoryKb(mesh.client.pid) },
    ];
    const profiles: SidecarProfile[] = [];
    if (o.profile) {
      profiles.push(await profiledRun(mesh, "server", LOADS[1]!, o));
      profiles.push(await profiledRun(mesh, "client", LOADS[2]!, o));
    }
    return { config: { durationS: o.durationS, warmupS: o.warmupS, threads: o.threads, connections: o.connections, bodyBytes: 1024 }, paths, memory, profiles };
  } finally {
    await stopAllChildren();
    if (mesh) {
      await mesh.control.close();
      rmSync(mesh.configDir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runSidecarThroughput();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
