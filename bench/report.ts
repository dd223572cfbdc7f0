// Turns the benchmark results into bench/results/latest.md: machine facts, then one table
// per measurement, then the profiles.
import type { ThroughputResult } from "./sidecar-throughput.ts";
import type { PropagationReport } from "./config-propagation.ts";
import type { SidecarProfile } from "./lib/cpuprofile.ts";
import { markdownTable as table, profileFunctionRows } from "./lib/markdown.ts";

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  node: string;
  wrk: string;
  kernel: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews every number. */
  loadStart: number;
  loadEnd?: number;
}

export interface BenchResults {
  machine: Machine;
  throughput?: ThroughputResult;
  propagation?: PropagationReport;
  /** Benchmarks that failed, with their error message. */
  failures: { bench: string; error: string }[];
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f2 = (n: number) => n.toFixed(2);
const mib = (kb: number) => (kb / 1024).toFixed(0);


function profileSection(p: SidecarProfile): string {
  const s = p.summary;
  const out = [
    `### ${p.sidecar}, ${p.load} load (${f0(p.requests)} requests under --cpu-prof)`,
    "",
    `Busy ${f0(s.busyMs)} ms of ${f0(s.sampledMs)} ms sampled (idle ${f0(s.idleMs)} ms, GC ${f0(s.gcMs)} ms). ` +
      `Self time by origin: our src/ ${f0(s.selfByOrigin.ours)} ms, node_modules ${f0(s.selfByOrigin.nodeModules)} ms, Node/V8 and native ${f0(s.selfByOrigin.runtime)} ms. ` +
      `Busy time per request: ${((s.busyMs * 1000) / p.requests).toFixed(1)} µs.`,
    "",
    "Top 15 by self time:",
    "",
    table(["#", "function", "where", "self ms", "% of busy"], profileFunctionRows(p.topSelf, s.busyMs, "self", 2)),
    "",
    "Our code (src/) by total time, callees included:",
    "",
    table(["#", "function", "where", "total ms", "% of busy"], profileFunctionRows(p.topOursTotal, s.busyMs, "total", 2)),
  ];
  if (p.nativeCallers.length) {
    out.push("", "Nearest JavaScript caller of the top native functions:", "");
    for (const n of p.nativeCallers) out.push(`- \`${n.native}\`: ${n.callers.map((c) => `\`${c.caller}\` ${f0(c.ms)} ms`).join(", ")}`);
  }
  return out.join("\n");
}

function throughputSection(t: ThroughputResult): string {
  const rows = t.paths.map((p) => [
    p.path,
    p.description,
    f0(p.wrk.requestsPerS),
    f2(p.wrk.p50Ms),
    f2(p.wrk.p99Ms),
    f2(p.throughputRatio),
    f2(p.p50Ratio),
    Object.entries(p.cpuPer1000).map(([name, s]) => `${name} ${(s * 1000).toFixed(1)}`).join(", "),
    String(Object.values(p.wrk.errors).reduce((a, b) => a + b, 0)),
  ]);
  const syscalls = t.paths.flatMap((p) => Object.entries(p.syscallsPerRequest).map(([name, s]) => [p.path, name, f2(s.reads), f2(s.writes)]));
  const mem = t.memory.map((m) => [m.sidecar, mib(m.idle.rssKb), mib(m.idle.hwmKb), mib(m.afterLoad.rssKb), mib(m.afterLoad.hwmKb)]);
  return [
    "## Sidecar throughput",
    "",
    `wrk, HTTP/1.1 keep-alive, ${t.config.threads} threads x ${t.config.connections} connections, ${t.config.durationS} s per path after a ${t.config.warmupS} s warm-up; ` +
      `upstream answers ${t.config.bodyBytes} bytes. Access logs off. CPU is utime+stime from /proc, in ms per 1000 requests.`,
    "",
    table(["path", "hops", "req/s", "p50 ms", "p99 ms", "req/s vs direct", "p50 vs direct", "CPU ms / 1000 req", "errors"], rows),
    "",
    "System calls per request (/proc/<pid>/io syscr and syscw; a keep-alive hop costs at least one read and one write per side):",
    "",
    table(["path", "process", "reads / req", "writes / req"], syscalls),
    "",
    "Sidecar resident memory (MiB):",
    "",
    table(["sidecar", "VmRSS idle", "VmHWM idle", "VmRSS after load", "VmHWM after load"], mem),
    "",
    ...t.profiles.map((p) => `${profileSection(p)}\n`),
  ].join("\n");
}

function propagationSection(p: PropagationReport): string {
  const rows = p.results.map((r) => [
    String(r.proxies),
    f0(r.initialSyncMs),
    String(r.samples),
    f0(r.minMs),
    f0(r.p50Ms),
    f0(r.p99Ms),
    f0(r.maxMs),
    mib(r.controlIdle.rssKb),
    mib(r.controlWithProxies.rssKb),
    f2(r.controlCpuPerChangeS * 1000),
  ]);
  const out = [
    "## Config propagation",
    "",
    "A VirtualService file rewritten; time from the write until each simulated sidecar (AdsClient in the bench process) holds the RouteConfiguration with the new subset. " +
      "The floor is the directory watcher's 50 ms debounce plus the ADS push debounce of 100 ms. " +
      "The simulated proxies share one HTTP/2 connection (grpc-js pools subchannels per process), and their decoding runs on one thread.",
    "",
    table(["proxies", "initial sync ms", "samples", "min ms", "p50 ms", "p99 ms", "max ms", "control RSS idle MiB", "control RSS with proxies MiB", "control CPU ms / change"], rows),
  ];
  const c = p.controlProfile;
  if (c) {
    out.push(
      "",
      `### Control plane under --cpu-prof, ${c.proxies} proxies, initial sync + ${c.rounds} changes`,
      "",
      `Busy ${f0(c.busyMs)} ms (GC ${f0(c.gcMs)} ms).`,
      "",
      "Top 15 by self time:",
      "",
      table(["#", "function", "where", "self ms", "% of busy"], profileFunctionRows(c.topSelf, c.busyMs, "self", 2)),
      "",
      "Our code (src/) by total time:",
      "",
      table(["#", "function", "where", "total ms", "% of busy"], profileFunctionRows(c.topOursTotal, c.busyMs, "total", 2)),
    );
  }
  return out.join("\n");
}

export function formatMarkdown(r: BenchResults): string {
  const m = r.machine;
  const parts = [
    "# Mizzen benchmarks",
    "",
    table(["date", "nproc", "cpu", "node", "wrk", "kernel", "load avg start / end"], [[m.date, String(m.nproc), m.cpu, m.node, m.wrk, m.kernel, `${m.loadStart.toFixed(2)} / ${m.loadEnd?.toFixed(2) ?? "?"}`]]),
    "",
    "Reproduce with `npm run bench` (Linux, wrk on PATH). Both load generator and proxies share the machine's cores.",
    "",
  ];
  if (r.throughput) parts.push(throughputSection(r.throughput), "");
  if (r.propagation) parts.push(propagationSection(r.propagation), "");
  if (r.failures.length) {
    parts.push("## Failures", "", ...r.failures.map((f) => `- ${f.bench}: ${f.error.split("\n")[0]}`), "");
  }
  return parts.join("\n");
}
