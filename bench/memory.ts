// Sidecar memory and start-up, one real `mizzen proxy` child at a time:
//   control plane in this process on examples/bookinfo; the bench upstream as the
//   productpage app on 127.98.2.1:9080; the sidecar on pod IP 127.98.1.1, as `mizzen up`
//   would start it (src/run/up.ts defaultCommandFor). For each start: time from spawn to
//   admin /ready, VmRSS/VmHWM idle (2 s after the first route works), then wrk through the
//   inbound listener and through the outbound proxy (which comes back to the same sidecar's
//   inbound listener), and VmRSS/VmHWM after that load.
//
//   npx node bench/memory.ts [--starts N] [--load-s S] [--node-arg=FLAG ...] [--no-up-args]
//
// --node-arg adds a flag before the script (e.g. --node-arg=--max-semi-space-size=1) to try
// V8 options; by default the sidecar gets exactly the node flags `mizzen up` gives it.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControl } from "../src/control/main.ts";
import { defaultCommandFor } from "../src/run/up.ts";
import { answers, listening, startChild, statusViaProxy, stopAllChildren, waitFor, type BenchChild } from "./lib/children.ts";
import { cpuSeconds, memoryKb, type MemoryKb } from "./lib/proc-stats.ts";
import { runWrk } from "./lib/wrk.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const UPSTREAM_SCRIPT = join(REPO, "bench/upstream-server.ts");
const POD = "127.98.1.1";
const APP_HOST = "127.98.2.1";
const APP_PORT = 9080;
const ADMIN_PORT = 15000;
const OUTBOUND_PORT = 15001;

interface Flags {
  starts: number;
  loadS: number;
  nodeArgs: string[];
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { starts: 3, loadS: 5, nodeArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--starts") f.starts = Number(argv[++i]);
    else if (a === "--load-s") f.loadS = Number(argv[++i]);
    else if (a.startsWith("--node-arg=")) f.nodeArgs.push(a.slice("--node-arg=".length));
    else throw new Error(`unknown flag ${a}; see the comment at the top of bench/memory.ts`);
  }
  return f;
}

export interface MemoryRun {
  readyMs: number;
  idle: MemoryKb;
  afterLoad: MemoryKb;
  inboundRps: number;
  outboundRps: number;
  /** Sidecar CPU (utime+stime) per 1000 requests over both loads: steadier than req/s on a busy machine. */
  cpuMsPer1000: number;
  errors: number;
}

const mib = (kb: number) => (kb / 1024).toFixed(1);

async function oneStart(xdsPort: number, f: Flags, load: boolean): Promise<MemoryRun> {
  const proxyArgs = ["--xds", `127.0.0.1:${xdsPort}`, "--ip", POD, "--name", "productpage-v1", "--namespace", "default",
    "--labels", "app=productpage,version=v1", "--service-account", "bookinfo-productpage", "--ports", `http:${APP_PORT}`, "--app-address", APP_HOST];
  const { command, args } = defaultCommandFor("proxy", proxyArgs);
  const t0 = performance.now();
  const child: BenchChild = startChild("sidecar", command, [...f.nodeArgs, ...args], { ...process.env, MIZZEN_LOG_FORMAT: "text" });
  try {
    // Polled every 10 ms (waitFor's 100 ms would blur start-up times).
    while (!(await answers(`http://${POD}:${ADMIN_PORT}/ready`))) {
      if (child.proc.exitCode !== null) throw new Error(`the sidecar exited before /ready:\n${child.tail()}`);
      if (performance.now() - t0 > 30_000) throw new Error(`the sidecar was not ready after 30 s:\n${child.tail()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - t0;
    await waitFor("a route to productpage through the sidecar", async () => (await statusViaProxy(POD, OUTBOUND_PORT, `http://productpage:${APP_PORT}/`)) === 200, 30_000, child);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = memoryKb(child.pid);
    let inboundRps = NaN, outboundRps = NaN, cpuMsPer1000 = NaN, errors = 0;
    if (load) {
      const common = { threads: 2, connections: 16, durationS: f.loadS };
      const cpuBefore = cpuSeconds(child.pid);
      const inbound = await runWrk({ ...common, url: `http://${POD}:${APP_PORT}/` });
      const outbound = await runWrk({ ...common, url: `http://${POD}:${OUTBOUND_PORT}/`, requestTarget: `http://productpage:${APP_PORT}/`, hostHeader: `productpage:${APP_PORT}` });
      inboundRps = inbound.requestsPerS;
      outboundRps = outbound.requestsPerS;
      cpuMsPer1000 = ((cpuSeconds(child.pid) - cpuBefore) * 1e6) / (inbound.requests + outbound.requests);
      for (const r of [inbound, outbound]) errors += Object.values(r.errors).reduce((a, b) => a + b, 0);
    }
    const afterLoad = memoryKb(child.pid);
    return { readyMs, idle, afterLoad, inboundRps, outboundRps, cpuMsPer1000, errors };
  } finally {
    await child.stop();
  }
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  for (const [h, p] of [[POD, ADMIN_PORT], [POD, APP_PORT], [POD, OUTBOUND_PORT], [APP_HOST, APP_PORT]] as const) {
    if (await listening(h, p)) throw new Error(`${h}:${p} is already in use (another benchmark running?)`);
  }
  const control = await startControl({ configDir: join(REPO, "examples/bookinfo"), xds: { host: "127.0.0.1", port: 0 }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false });
  const upstream = startChild("upstream", process.execPath, [UPSTREAM_SCRIPT], { ...process.env, HOST: APP_HOST, PORT: String(APP_PORT) });
  try {
    await waitFor("the upstream to listen", () => answers(`http://${APP_HOST}:${APP_PORT}/`), 15_000, upstream);
    console.log(`node flags: ${f.nodeArgs.join(" ") || "(none)"}; ${f.starts} starts, the last with ${f.loadS} s inbound + ${f.loadS} s outbound wrk (2 threads x 16 connections)`);
    console.log("| start | ready ms | VmRSS idle MiB | VmHWM idle MiB | VmRSS after load MiB | VmHWM after load MiB | inbound req/s | outbound req/s | sidecar CPU ms / 1000 req | errors |");
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (let i = 1; i <= f.starts; i++) {
      const r = await oneStart(control.xdsPort, f, i === f.starts);
      const rps = (n: number) => (Number.isNaN(n) ? "-" : String(Math.round(n)));
      console.log(`| ${i} | ${Math.round(r.readyMs)} | ${mib(r.idle.rssKb)} | ${mib(r.idle.hwmKb)} | ${mib(r.afterLoad.rssKb)} | ${mib(r.afterLoad.hwmKb)} | ${rps(r.inboundRps)} | ${rps(r.outboundRps)} | ${Number.isNaN(r.cpuMsPer1000) ? "-" : r.cpuMsPer1000.toFixed(1)} | ${r.errors} |`);
    }
  } finally {
    await stopAllChildren();
    await control.close();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench/memory: ${err.message}\n`);
    process.exit(1);
  },
);
