// Control-plane scale: a `mizzen control` child process serves S services (scale-config.ts) to
// P simulated sidecars in this process (simulated-proxy.ts, one HTTP/2 connection each). Per
// point of the grid: the time for all P to get their first config, then K VirtualService
// rewrites, each timed per proxy from the file write to the moment that proxy holds (and
// ACKs) the new route; control-plane CPU per change, resident memory idle and with P proxies,
// and the bytes it wrote per change (/proc/<pid>/io wchar: every byte handed to its sockets,
// HTTP/2 and gRPC framing included).
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { answers, listening, startChild, waitFor, type BenchChild } from "./children.ts";
import { cpuSeconds, memoryKb, type MemoryKb } from "./proc-stats.ts";
import { percentile } from "./constant-rate.ts";
import { SimulatedProxy } from "./simulated-proxy.ts";
import { routeMarker, routeYaml, servicesYaml, subsetsYaml, SUBSETS } from "./scale-config.ts";
import { readFileSync } from "node:fs";
import { request } from "node:http";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
// Our loopback /24: the control plane's three listeners.
const CONTROL_HOST = "127.142.0.1";
const XDS_TLS_PORT = 15012;
const XDS_PORT = 15010;
const DEBUG_PORT = 15014;

export interface ScalePoint {
  proxies: number;
  services: number;
}

export interface ScaleOptions {
  /** VirtualService rewrites per point. */
  changes: number;
  /** Quiet time after the initial sync and between changes, ms. */
  pauseMs: number;
  initialTimeoutMs: number;
  changeTimeoutMs: number;
  log: (line: string) => void;
}

export interface ScaleResult extends ScalePoint {
  /** From starting the P clients to all of them holding their first routes, ms. */
  initialSyncMs: number;
  /** Per proxy per change, from the file write to the new RouteConfiguration (ACK sent right after), ms. */
  samples: number;
  minMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  controlIdle: MemoryKb;
  controlWithProxies: MemoryKb;
  /** (RSS with proxies - RSS idle) / P, KiB. */
  memoryPerProxyKb: number;
  /** Control-plane CPU seconds per change (all P proxies pushed). */
  controlCpuPerChangeS: number;
  /** Control-plane CPU per change per connected proxy, µs. */
  controlCpuPerProxyUs: number;
  /** Bytes the control plane wrote per change (wchar), and per proxy. */
  bytesPerChange: number;
  bytesPerProxyPerChange: number;
  /** xDS responses per change by type, from pilot_xds_pushes. */
  pushesPerChange: Record<string, number>;
  /** CPU seconds this process (the simulated proxies' decoding) spent per change. */
  clientCpuPerChangeS: number;
}

function wcharBytes(pid: number): number {
  return Number(/^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? NaN);
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** pilot_xds_pushes{type="..."} counters from the control plane's /metrics text. */
export function parsePushes(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^pilot_xds_pushes\{type="([^"]+)"\}\s+(\d+(?:\.\d+)?)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export async function measureScalePoint(point: ScalePoint, o: ScaleOptions): Promise<ScaleResult> {
  const { proxies: n, services } = point;
  for (const port of [XDS_TLS_PORT, XDS_PORT, DEBUG_PORT]) {
    if (await listening(CONTROL_HOST, port)) throw new Error(`${CONTROL_HOST}:${port} is already in use (another benchmark running?)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-scale-"));
  const configDir = join(dir, "config");
  const dataDir = join(dir, "data");
  let control: BenchChild | undefined;
  const sims: SimulatedProxy[] = [];
  try {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(configDir);
    writeFileSync(join(configDir, "services.yaml"), servicesYaml(services));
    writeFileSync(join(configDir, "subsets.yaml"), subsetsYaml());
    const vsFile = join(configDir, "route.yaml");
    writeAtomically(vsFile, routeYaml("v1"));
    control = startChild("control plane", process.execPath, [
      CLI, "control", "--config", configDir, "--data-dir", dataDir,
      "--xds-address", `${CONTROL_HOST}:${XDS_TLS_PORT}`, "--plaintext-xds-address", `${CONTROL_HOST}:${XDS_PORT}`, "--debug-address", `${CONTROL_HOST}:${DEBUG_PORT}`,
    ], { ...process.env, MIZZEN_LOG_FORMAT: "text" });
    await waitFor("the control plane's /ready", () => answers(`http://${CONTROL_HOST}:${DEBUG_PORT}/ready`), 60_000, control);
    await sleep(o.pauseMs);
    const controlIdle = memoryKb(control.pid);

    const t0 = performance.now();
    for (let i = 0; i < n; i++) sims.push(new SimulatedProxy(`${CONTROL_HOST}:${XDS_PORT}`, i, "svc-0."));
    const initial = Promise.all(sims.map((p) => p.routesWith(routeMarker("v1"))));
    for (const p of sims) p.client.start();
    await withTimeout(initial, o.initialTimeoutMs, `${n} proxies receiving their first routes for ${services} services`);
    const initialSyncMs = performance.now() - t0;
    await sleep(o.pauseMs);
    const controlWithProxies = memoryKb(control.pid);

    const latencies: number[] = [];
    const minima: number[] = [];
    let cpu = 0, bytes = 0, clientCpu = 0;
    const pushes: Record<string, number> = {};
    for (let c = 0; c < o.changes; c++) {
      const subset = SUBSETS[(c + 1) % SUBSETS.length]!;
      const marker = routeMarker(subset);
      const pushesBefore = parsePushes(await getText(`http://${CONTROL_HOST}:${DEBUG_PORT}/metrics`));
      const arrivals = Promise.all(sims.map((p) => p.routesWith(marker)));
      const [cpuBefore, bytesBefore, clientBefore] = [cpuSeconds(control.pid), wcharBytes(control.pid), process.cpuUsage()];
      const written = performance.now();
      writeAtomically(vsFile, routeYaml(subset));
      const times = await withTimeout(arrivals, o.changeTimeoutMs, `${n} proxies receiving the rewritten VirtualService`);
      // Anything else the change causes (later pushes of other types) settles in the pause.
      await sleep(o.pauseMs);
      cpu += cpuSeconds(control.pid) - cpuBefore;
      bytes += wcharBytes(control.pid) - bytesBefore;
      const cu = process.cpuUsage(clientBefore);
      clientCpu += (cu.user + cu.system) / 1e6;
      const pushesAfter = parsePushes(await getText(`http://${CONTROL_HOST}:${DEBUG_PORT}/metrics`));
      for (const [t, v] of Object.entries(pushesAfter)) pushes[t] = (pushes[t] ?? 0) + v - (pushesBefore[t] ?? 0);
      const these = times.map((t) => t - written);
      latencies.push(...these);
      minima.push(Math.min(...these));
    }
    latencies.sort((a, b) => a - b);
    const sorted = Float64Array.from(latencies);
    const perChange = (v: number) => v / o.changes;
    const result: ScaleResult = {
      proxies: n, services, initialSyncMs, samples: latencies.length,
      minMs: Math.min(...minima), p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1]!,
      controlIdle, controlWithProxies,
      memoryPerProxyKb: (controlWithProxies.rssKb - controlIdle.rssKb) / n,
      controlCpuPerChangeS: perChange(cpu),
      controlCpuPerProxyUs: (perChange(cpu) * 1e6) / n,
      bytesPerChange: perChange(bytes),
      bytesPerProxyPerChange: perChange(bytes) / n,
      pushesPerChange: Object.fromEntries(Object.entries(pushes).filter(([, v]) => v > 0).map(([t, v]) => [t, perChange(v)])),
      clientCpuPerChangeS: perChange(clientCpu),
    };
    o.log(`${n} proxies x ${services} services: initial sync ${Math.round(initialSyncMs)} ms; change p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms; ` +
      `control CPU ${(result.controlCpuPerChangeS * 1000).toFixed(0)} ms/change, RSS ${Math.round(controlWithProxies.rssKb / 1024)} MiB (${result.memoryPerProxyKb.toFixed(0)} KiB/proxy), ` +
      `${(result.bytesPerChange / 1e6).toFixed(2)} MB/change; bench client CPU ${(result.clientCpuPerChangeS * 1000).toFixed(0)} ms/change`);
    return result;
  } catch (err) {
    throw new Error(`${(err as Error).message}${control ? `\ncontrol plane output:\n${control.tail()}` : ""}`);
  } finally {
    for (const p of sims) p.client.close();
    await control?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runControlScale(points: ScalePoint[], o: ScaleOptions): Promise<{ results: ScaleResult[]; failures: { point: ScalePoint; error: string }[] }> {
  const results: ScaleResult[] = [];
  const failures: { point: ScalePoint; error: string }[] = [];
  for (const p of points) {
    try {
      results.push(await measureScalePoint(p, o));
    } catch (err) {
      failures.push({ point: p, error: (err as Error).message });
      o.log(`${p.proxies} proxies x ${p.services} services failed: ${(err as Error).message.split("\n")[0]}`);
    }
    // Closed streams and their sockets go before the next point starts.
    await sleep(500);
  }
  return { results, failures };
}
