// How long a VirtualService change takes to reach every proxy. A control plane (child process,
// `mizzen control`) watches a temp folder with the Bookinfo config; N simulated sidecars in this
// process (real AdsClient instances) subscribe as the sidecar does: LDS and CDS wildcard, then
// RDS for the route names their listeners use and EDS for their EDS clusters. We rewrite the
// reviews VirtualService and time, per proxy, from the write to the RouteConfiguration that
// sends reviews to the new subset. Also: control-plane RSS and CPU with N proxies connected.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AdsClient } from "../src/xds/client.ts";
import { TYPE } from "../src/xds/envoy-types.ts";
import type { ProxyNode } from "../src/xds/node.ts";
import { answers, startChild, stopAllChildren, waitFor, type BenchChild } from "./lib/children.ts";
import { cpuSeconds, memoryKb, type MemoryKb } from "./lib/proc-stats.ts";
import { readProfile, topOursTotal, topSelf, type FunctionTime } from "./lib/cpuprofile.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
const BOOKINFO = join(REPO, "examples/bookinfo");

const PODS = [
  ["productpage-v1", "productpage", "v1"],
  ["details-v1", "details", "v1"],
  ["reviews-v1", "reviews", "v1"],
  ["reviews-v2", "reviews", "v2"],
  ["reviews-v3", "reviews", "v3"],
  ["ratings-v1", "ratings", "v1"],
] as const;

function workloadEntries(): string {
  return PODS.map(([name, app, version], i) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
  namespace: default
spec:
  address: 127.97.1.${i + 1}
  labels:
    app: ${app}
    version: ${version}
  serviceAccount: bookinfo-${app}
`).join("---\n");
}

function reviewsRoute(subset: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: ${subset}
`;
}

/** The cluster a RouteConfiguration names once reviews goes to this subset. */
const markerFor = (subset: string) => `outbound|9080|${subset}|reviews.default.svc.cluster.local`;

export interface PropagationOptions {
  proxyCounts: number[];
  /** VirtualService rewrites per proxy count. */
  rounds: number;
  /** Quiet time between rounds, ms. */
  pauseMs: number;
  /** One more run with this many proxies and the control plane under --cpu-prof (0: none). */
  profileProxies: number;
  log: (line: string) => void;
}

export const defaultPropagationOptions: PropagationOptions = {
  proxyCounts: [10, 100, 500],
  rounds: 3,
  pauseMs: 500,
  profileProxies: 500,
  log: (l) => process.stderr.write(`${l}\n`),
};

export interface PropagationResult {
  proxies: number;
  /** From starting the N clients to all of them holding the initial routes, ms. */
  initialSyncMs: number;
  /** Per proxy per round, from the file write to the new RouteConfiguration, ms. */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The fastest proxy of each round: the floor set by the watcher and push debounces. */
  minMs: number;
  controlIdle: MemoryKb;
  controlWithProxies: MemoryKb;
  /** Control-plane CPU seconds per VirtualService change, all N proxies pushed. */
  controlCpuPerChangeS: number;
}

export interface ControlProfile {
  proxies: number;
  rounds: number;
  busyMs: number;
  gcMs: number;
  topSelf: FunctionTime[];
  topOursTotal: FunctionTime[];
}

export interface PropagationReport {
  results: PropagationResult[];
  controlProfile?: ControlProfile;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Walks a decoded resource for every value of `key` (route_config_name in an HCM, ...). */
function valuesOf(obj: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(obj)) for (const v of obj) valuesOf(v, key, out);
  else if (obj && typeof obj === "object") {
    for (const [k, v] of Object.entries(obj)) {
      if (k === key && typeof v === "string") out.push(v);
      else valuesOf(v, key, out);
    }
  }
  return out;
}

/** One simulated sidecar: subscribes as ours does and remembers when routes with a marker arrived. */
class SimulatedProxy {
  readonly client: AdsClient;
  private waiting: { marker: string; resolve: (t: number) => void } | undefined;
  private lastRoutes = "";

  constructor(xds: string, i: number) {
    const ip = `127.98.${1 + (i >> 8)}.${1 + (i & 255)}`;
    const node: ProxyNode = {
      id: `sidecar~${ip}~sim-${i}.default~default.svc.cluster.local`,
      type: "sidecar", ip, name: `sim-${i}`, namespace: "default", labels: { app: "sim" }, serviceAccount: "default",
      ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false, proxyVersion: "bench",
    };
    this.client = new AdsClient({ server: xds, node, onResponse: (t, r) => this.onResponse(t, r) });
    this.client.subscribeAll(TYPE.cluster);
    this.client.subscribeAll(TYPE.listener);
  }

  private onResponse(typeUrl: string, resources: { name: string; resource: any }[]): null {
    if (typeUrl === TYPE.listener) {
      this.client.subscribe(TYPE.route, resources.flatMap((r) => valuesOf(r.resource, "route_config_name")));
    } else if (typeUrl === TYPE.cluster) {
      const eds = resources.filter((r) => r.resource.type === "EDS").map((r) => (r.resource.eds_cluster_config?.service_name as string | undefined) || r.name);
      this.client.subscribe(TYPE.endpoint, eds);
    } else if (typeUrl === TYPE.route) {
      this.lastRoutes = JSON.stringify(resources.map((r) => r.resource));
      const w = this.waiting;
      if (w && this.lastRoutes.includes(w.marker)) {
        this.waiting = undefined;
        w.resolve(performance.now());
      }
    }
    return null;
  }

  /** Resolves with the time the routes first hold marker (now, if they already do). */
  routesWith(marker: string): Promise<number> {
    if (this.lastRoutes.includes(marker)) return Promise.resolve(performance.now());
    return new Promise((resolve) => (this.waiting = { marker, resolve }));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

async function measureOne(n: number, o: PropagationOptions, profileDir?: string): Promise<PropagationResult> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-propagation-"));
  let control: BenchChild | undefined;
  const proxies: SimulatedProxy[] = [];
  try {
    for (const f of ["bookinfo.yaml", "destination-rules.yaml"]) copyFileSync(join(BOOKINFO, f), join(dir, f));
    writeFileSync(join(dir, "workload-entries.yaml"), workloadEntries());
    const vsFile = join(dir, "virtual-service-reviews.yaml");
    writeFileSync(vsFile, reviewsRoute("v1"));
    const [xdsPort, debugPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
    const prof = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    control = startChild("control plane", process.execPath, [...prof, CLI, "control", "--config", dir, "--plaintext-xds-address", `127.0.0.1:${xdsPort}`, "--xds-address", `127.0.0.1:${tlsPort}`, "--data-dir", join(dir, ".mizzen"), "--debug-address", `127.0.0.1:${debugPort}`], { ...process.env, MIZZEN_LOG_FORMAT: "text" });
    await waitFor("the control plane's /ready", () => answers(`http://127.0.0.1:${debugPort}/ready`), 30_000, control);
    const controlIdle = memoryKb(control.pid);

    const t0 = performance.now();
    for (let i = 0; i < n; i++) proxies.push(new SimulatedProxy(`127.0.0.1:${xdsPort}`, i));
    const initial = Promise.all(proxies.map((p) => p.routesWith(markerFor("v1"))));
    for (const p of proxies) p.client.start();
    await withTimeout(initial, 60_000, `${n} proxies receiving their first routes`);
    const initialSyncMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, o.pauseMs));
    const controlWithProxies = memoryKb(control.pid);

    const latencies: number[] = [];
    const minima: number[] = [];
    const subsets = ["v2", "v3", "v1"];
    const cpuBefore = cpuSeconds(control.pid);
    for (let round = 0; round < o.rounds; round++) {
      const marker = markerFor(subsets[round % subsets.length]!);
      const arrivals = Promise.all(proxies.map((p) => p.routesWith(marker)));
      const written = performance.now();
      writeFileSync(vsFile, reviewsRoute(subsets[round % subsets.length]!));
      const times = await withTimeout(arrivals, 30_000, `${n} proxies receiving the rewritten VirtualService`);
      const round_ = times.map((t) => t - written);
      latencies.push(...round_);
      minima.push(Math.min(...round_));
      await new Promise((r) => setTimeout(r, o.pauseMs));
    }
    const controlCpuPerChangeS = (cpuSeconds(control.pid) - cpuBefore) / o.rounds;
    latencies.sort((a, b) => a - b);
    const result: PropagationResult = {
      proxies: n, initialSyncMs, samples: latencies.length,
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies[latencies.length - 1]!, minMs: Math.min(...minima),
      controlIdle, controlWithProxies, controlCpuPerChangeS,
    };
    o.log(`${profileDir ? "(profiled) " : ""}${n} proxies: initial sync ${Math.round(initialSyncMs)} ms; change p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms; control RSS ${Math.round(controlWithProxies.rssKb / 1024)} MiB`);
    return result;
  } catch (err) {
    throw new Error(`${(err as Error).message}${control ? `\ncontrol plane output:\n${control.tail()}` : ""}`);
  } finally {
    for (const p of proxies) p.client.close();
    await control?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The control plane's CPU profile over the initial sync and the rounds (start-up cut off). */
async function profileControl(n: number, o: PropagationOptions): Promise<ControlProfile> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-control-prof-"));
  try {
    await measureOne(n, o, dir);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`the profiled control plane wrote no .cpuprofile into ${dir}`);
    const summary = readProfile(join(dir, file), REPO, "/src/translate/");
    return { proxies: n, rounds: o.rounds, busyMs: summary.busyMs, gcMs: summary.gcMs, topSelf: topSelf(summary, 15), topOursTotal: topOursTotal(summary, 15) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runConfigPropagation(opts: Partial<PropagationOptions> = {}): Promise<PropagationReport> {
  const o = { ...defaultPropagationOptions, ...opts };
  const results: PropagationResult[] = [];
  try {
    for (const n of o.proxyCounts) results.push(await measureOne(n, o));
    const controlProfile = o.profileProxies > 0 ? await profileControl(o.profileProxies, o) : undefined;
    return { results, controlProfile };
  } finally {
    await stopAllChildren();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runConfigPropagation();
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
