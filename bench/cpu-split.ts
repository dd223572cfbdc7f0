// Where a proxy's CPU per request goes, Mizzen's sidecars against HAProxy, side by side: user
// space against kernel, context switches, and (for the sidecars) the main thread against V8's
// helper threads, at several constant rates. It answers "is the gap in our code or in the
// system calls every proxy makes?" and "how much of the cost is per wake-up, not per request?"
// It also reads the runtime's floor: the resident memory of a bare Node process that has
// loaded only the modules a proxy cannot do without.
//
//   npx node bench/cpu-split.ts [--rates 1000,3000,6000] [--duration S] [--warmup S]
//   writes bench/results/cpu-split.json and bench/results/cpu-split.md
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stopAllChildren, type BenchChild } from "./lib/children.ts";
import { cpuSplit, threadCpuSeconds, type CpuSplit } from "./lib/proc-stats.ts";
import { APP_HOST, APP_PORT, CLIENT_POD, OUTBOUND_PORT, startMtlsMesh } from "./lib/mtls-mesh.ts";
import { startHaproxyPair } from "./lib/haproxy-pair.ts";
import { SIDECAR_V8_FLAGS } from "../src/run/stripped-modules.ts";
import type { ConstantRateOptions, ConstantRateResult } from "./lib/constant-rate.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const CONSTANT_RATE_SCRIPT = fileURLToPath(new URL("./lib/constant-rate.ts", import.meta.url));
// Our own loopback /24 for this bench's HAProxy pair.
const HAPROXY = { front: { host: "127.146.1.2", port: 15001 }, back: { host: "127.146.1.1", port: 8443 } };
const log = (l: string): void => void process.stderr.write(`cpu-split bench: ${l}\n`);

interface Options { rates: number[]; durationS: number; warmupS: number }

interface ProxyRow {
  rate: number;
  path: "mizzen" | "haproxy";
  proxy: string;
  requests: number;
  userUs: number;
  systemUs: number;
  voluntaryPerRequest: number;
  involuntaryPerRequest: number;
  /** CPU µs per request by thread name (Node: MainThread, V8Worker, libuv-worker...). */
  threadsUs: Record<string, number>;
}

function constantRate(o: ConstantRateOptions): Promise<ConstantRateResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CONSTANT_RATE_SCRIPT, JSON.stringify(o)], { timeout: (o.durationS + 60) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err) reject(new Error(`constant-rate client failed: ${err.message}\n${errOut}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as ConstantRateResult);
    });
  });
}

/** Resident memory of a bare Node process with only the modules a proxy needs loaded. */
function runtimeFloorKb(): { bare: { rssKb: number; anonKb: number }; withNetModules: { rssKb: number; anonKb: number } } {
  const probe = (requires: string) => {
    const script = `${requires}setTimeout(() => { const s = require("fs").readFileSync("/proc/self/status", "utf8"); const f = (n) => Number(new RegExp("^" + n + ":\\\\s+(\\\\d+)", "m").exec(s)[1]); console.log(JSON.stringify({ rssKb: f("VmRSS"), anonKb: f("RssAnon") })); }, 1000);`;
    return JSON.parse(execFileSync(process.execPath, [...SIDECAR_V8_FLAGS, "-e", script], { encoding: "utf8" })) as { rssKb: number; anonKb: number };
  };
  return { bare: probe(""), withNetModules: probe(`require("tls"); require("http"); require("http2"); require("crypto").randomUUID();`) };
}

async function measureRate(rate: number, paths: { name: ProxyRow["path"]; host: string; port: number; proxies: BenchChild[] }[], o: Options): Promise<ProxyRow[]> {
  const rows: ProxyRow[] = [];
  const target = { target: `http://upstream:${APP_PORT}/`, hostHeader: `upstream:${APP_PORT}`, connections: 16, rate };
  for (const p of paths) {
    await constantRate({ host: p.host, port: p.port, ...target, durationS: o.warmupS });
    const before = p.proxies.map((c) => ({ cpu: cpuSplit(c.pid), threads: threadCpuSeconds(c.pid) }));
    const r = await constantRate({ host: p.host, port: p.port, ...target, durationS: o.durationS });
    const n = r.completed;
    p.proxies.forEach((c, i) => {
      const a: CpuSplit = cpuSplit(c.pid);
      const b = before[i]!;
      const threads = threadCpuSeconds(c.pid);
      const threadsUs = Object.fromEntries(Object.entries(threads).map(([t, v]) => [t, ((v - (b.threads[t] ?? 0)) * 1e6) / n]).filter(([, v]) => (v as number) > 0));
      const row: ProxyRow = {
        rate, path: p.name, proxy: c.name, requests: n,
        userUs: ((a.userS - b.cpu.userS) * 1e6) / n,
        systemUs: ((a.systemS - b.cpu.systemS) * 1e6) / n,
        voluntaryPerRequest: (a.voluntarySwitches - b.cpu.voluntarySwitches) / n,
        involuntaryPerRequest: (a.involuntarySwitches - b.cpu.involuntarySwitches) / n,
        threadsUs,
      };
      log(`${rate} req/s ${p.name} ${c.name}: user ${row.userUs.toFixed(0)} µs, system ${row.systemUs.toFixed(0)} µs per request`);
      rows.push(row);
    });
  }
  return rows;
}

function markdown(rows: ProxyRow[], floor: ReturnType<typeof runtimeFloorKb>, o: Options, date: string): string {
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  const out = [
    "# Where a proxy's CPU per request goes",
    "",
    `${date}, node ${process.version}. Reproduce: \`npx node bench/cpu-split.ts\` (needs haproxy). Each path gets ${o.warmupS} s of warm-up at the rate, then ${o.durationS} s measured (16 connections, the same mTLS sidecars and HAProxy pair as bench/issue6.ts). CPU from /proc/<pid>/stat (user, system) and /proc/<pid>/task/*/stat (per thread); context switches from /proc/<pid>/status.`,
    "",
    "| req/s | proxy | user µs/req | system µs/req | total µs/req | voluntary switches/req | involuntary/req | by thread (µs/req) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.rate} | ${r.proxy} | ${r.userUs.toFixed(0)} | ${r.systemUs.toFixed(0)} | ${(r.userUs + r.systemUs).toFixed(0)} | ${r.voluntaryPerRequest.toFixed(2)} | ${r.involuntaryPerRequest.toFixed(2)} | ${Object.entries(r.threadsUs).map(([t, v]) => `${t} ${v.toFixed(0)}`).join(", ")} |`),
    "",
    "## The runtime's floor",
    "",
    `A Node process (same V8 flags as a sidecar) that has loaded nothing: ${mib(floor.bare.rssKb)} MiB resident (${mib(floor.bare.anonKb)} MiB private). With only \`tls\`, \`http\`, \`http2\` and \`crypto\` loaded: ${mib(floor.withNetModules.rssKb)} MiB resident (${mib(floor.withNetModules.anonKb)} MiB private). A sidecar's resident memory can go no lower than this.`,
    "",
  ];
  return out.join("\n");
}

function parseArgs(args: string[]): Options {
  const o: Options = { rates: [1000, 3000, 6000], durationS: 10, warmupS: 15 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === "--rates" && v && v.split(",").every((x) => Number(x) > 0)) (o.rates = v.split(",").map(Number)), i++;
    else if (a === "--duration" && Number(v) > 0) (o.durationS = Number(v)), i++;
    else if (a === "--warmup" && Number(v) >= 0) (o.warmupS = Number(v)), i++;
    else throw new Error(`unknown argument ${a}; use --rates 1000,3000 --duration SECONDS --warmup SECONDS`);
  }
  return o;
}

async function main(o: Options): Promise<void> {
  const date = new Date().toISOString();
  const floor = runtimeFloorKb();
  const mesh = await startMtlsMesh({ security: "mtls", newConnectionPerRequest: false }, log);
  const pair = await startHaproxyPair({ ...HAPROXY, upstream: { host: APP_HOST, port: APP_PORT }, serverName: "upstream.default.svc.cluster.local" }, mkdtempSync(join(tmpdir(), "cpu-split-haproxy-")));
  try {
    const paths = [
      { name: "mizzen" as const, host: CLIENT_POD, port: OUTBOUND_PORT, proxies: [mesh.client, mesh.server] },
      { name: "haproxy" as const, host: HAPROXY.front.host, port: HAPROXY.front.port, proxies: [pair.front, pair.back] },
    ];
    const rows: ProxyRow[] = [];
    for (const rate of o.rates) rows.push(...(await measureRate(rate, paths, o)));
    writeFileSync(join(RESULTS, "cpu-split.json"), JSON.stringify({ date, node: process.version, options: o, floor, rows }, null, 2) + "\n");
    writeFileSync(join(RESULTS, "cpu-split.md"), markdown(rows, floor, o, date));
    log(`wrote ${join(RESULTS, "cpu-split.md")}`);
  } finally {
    await pair.close();
    await mesh.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(parseArgs(process.argv.slice(2)))
    .then(() => stopAllChildren())
    .then(() => process.exit(0))
    .catch(async (e: Error) => {
      log(`failed: ${e.stack ?? e.message}`);
      await stopAllChildren();
      process.exit(1);
    });
}
