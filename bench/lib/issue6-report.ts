// bench/results/issue6.md from the measurements of bench/issue6.ts: headline and targets first,
// then the tables behind them, then the profile and the heap summary.
import type { SidecarProfile } from "./cpuprofile.ts";
import { markdownTable as table, profileFunctionRows } from "./markdown.ts";
import type { CompareOptions, PathName, RunSample } from "./data-plane-compare.ts";
import type { ScaleResult } from "./control-scale.ts";
import type { Headline, PathFigures, TargetVerdict, TestFigures } from "./issue6-summary.ts";
import type { IdleHeap } from "./sidecar-diagnostics.ts";

export interface Issue6Result {
  machine: { date: string; nproc: number; cpu: string; node: string; wrk: string; kernel: string; loadStart: number; loadEnd?: number; commit?: string; changedFiles?: number };
  dataPlane?: {
    config: Omit<CompareOptions, "log"> & { log?: undefined; bodyBytes: number; haproxy: string; paths: { name: PathName; description: string }[] };
    /** istio_requests_total was exported by the sidecars (standard metrics on). */
    metricsOn: boolean;
    samples: RunSample[];
    paths: PathFigures[];
    headline: Headline;
  };
  controlPlane?: { changes: number; results: ScaleResult[] };
  profile?: SidecarProfile;
  idleHeap?: IdleHeap;
  targets: TargetVerdict[];
  failures: { bench: string; error: string }[];
  elapsedS: number;
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : "-");
const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? "+" : ""}${n.toFixed(2)}` : "-");
const mib = (kb: number) => (kb / 1024).toFixed(1);
const mb = (kb: number) => ((kb * 1024) / 1e6).toFixed(1);

/** MiB of an optional KiB figure; "-" when it was not recorded (older results) or unknown. */
function optMib(kb: number | undefined): string {
  return kb === undefined || Number.isNaN(kb) ? "-" : mib(kb);
}


const PROXY_NAMES: Record<PathName, string[]> = { direct: [], mizzen: ["sidecar A", "sidecar B"], haproxy: ["HAProxy 1", "HAProxy 2"] };
const proxyName = (path: PathName, role: string) => PROXY_NAMES[path][Number(role.split(" ")[1]) - 1] ?? role;

function cpuCells(path: PathName, t: TestFigures, withVcpu: boolean): string {
  return t.proxies.map((p) => `${proxyName(path, p.role)} ${f1(p.msPer1000)}${withVcpu ? ` (${f3(p.vcpu)} vCPU)` : ""}`).join(", ") || "-";
}

function headlineSection(r: Issue6Result): string[] {
  const d = r.dataPlane!;
  const h = d.headline;
  const byPath = (p: PathName) => d.paths.find((x) => x.path === p)!;
  const out = ["## Headline", ""];
  const mz = h.addedLatency.mizzen;
  const hp = h.addedLatency.haproxy;
  if (mz && hp) {
    out.push(`- **Added latency over direct at 1000 req/s** (median of the per-round differences, so a round hit by a stall elsewhere on the machine moves it least): Mizzen ${signed(mz.p50Ms)} ms p50, ${signed(mz.p90Ms)} ms p90, **${signed(mz.p99Ms)} ms p99**; HAProxy ${signed(hp.p50Ms)} ms p50, ${signed(hp.p90Ms)} ms p90, ${signed(hp.p99Ms)} ms p99. Mizzen adds ${f1(mz.p50Ms / hp.p50Ms)}x HAProxy's p50.`);
  }
  out.push(`- **Throughput per proxy core** (requests per CPU-second of the two proxies, wrk at full speed): Mizzen ${f0(byPath("mizzen").throughput.requestsPerProxyCoreS)}, HAProxy ${f0(byPath("haproxy").throughput.requestsPerProxyCoreS)}: **${(h.perCoreRatio * 100).toFixed(0)}% of HAProxy's**. Raw req/s on this shared 2-core machine: Mizzen ${f0(byPath("mizzen").throughput.requestsPerS)}, HAProxy ${f0(byPath("haproxy").throughput.requestsPerS)} (${(h.rawThroughputRatio * 100).toFixed(0)}%), direct ${f0(byPath("direct").throughput.requestsPerS)}.`);
  const v = (path: PathName) => h.vcpuAt1000.filter((x) => x.path === path).map((x) => `${proxyName(path, x.role)} ${f3(x.vcpu)}`).join(", ");
  out.push(`- **CPU at 1000 req/s** (cores): ${v("mizzen")}; ${v("haproxy")}.`);
  const m = (path: PathName) => h.memory.filter((x) => x.path === path).map((x) => `${proxyName(path, x.role)} ${mib(x.at1000.rssKb)} MiB (peak ${mib(x.at1000.hwmKb)}${x.at1000.anonKb !== undefined ? `, private ${mib(x.at1000.anonKb)}` : ""})`).join(", ");
  out.push(`- **Memory per proxy at 1000 req/s** (VmRSS, peak VmHWM, private RssAnon: the rest is the binary's pages, shared by every process running it): ${m("mizzen")}; ${m("haproxy")}.`);
  return out;
}

function targetsSection(r: Issue6Result): string[] {
  if (!r.targets.length) return [];
  return ["## Targets (issue 6)", "", table(["target", "measured", "met"], r.targets.map((t) => [t.target, t.measured, t.met ? "yes" : "**no**"])), ""];
}

function dataPlaneSection(r: Issue6Result): string[] {
  const d = r.dataPlane!;
  const c = d.config;
  const out = [
    "## Data plane",
    "",
    ...c.paths.map((p) => `- **${p.name}**: ${p.description}`),
    "",
    `HTTP/1.1 keep-alive everywhere; the upstream (one Node process) answers every GET with ${c.bodyBytes} bytes. Mizzen: \`mizzen proxy --ca-root\` sidecars with ECDSA P-256 workload certificates from the control plane's CA, PeerAuthentication STRICT + auto mTLS, Istio standard metrics ${d.metricsOn ? "on (istio_requests_total exported)" : "**not seen**"}, access log off. HAProxy: ${c.haproxy}, \`nbthread 1\` per instance, ECDSA P-256 certificates from a throwaway openssl CA, HAProxy 1 presents a client certificate that HAProxy 2 requires, \`http-reuse always\`. Before round 1 every path runs ${c.warmupS} s at ${c.rate} req/s: V8 optimizes a function only after some thousands of calls, and \`--trace-opt\` shows a sidecar still compiling hot functions 10 s into a 1000 req/s load, so a short warm-up measures the compiler as much as the proxy. ${c.rounds} rounds; each round runs every path at a constant ${c.rate} req/s for ${c.rateDurationS} s (${c.connections} connections, open-loop client \`bench/lib/constant-rate.ts\` in its own process), then every path with wrk (${c.wrkThreads} threads x ${c.connections} connections, ${c.wrkDurationS} s), the path order rotating each round. CPU is utime+stime from /proc per process. Load generator, upstream and proxies share the machine's cores.`,
    "",
    `### Latency at a constant ${c.rate} req/s`,
    "",
    table(["path", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "p99 from due ms", "CPU µs/req (vCPU)", "upstream µs/req", "errors"],
      d.paths.map((p) => { const t = p.constantRate; return [p.path, f0(t.requestsPerS), f2(t.latency.p50Ms), f2(t.latency.p90Ms), f2(t.latency.p99Ms), f2(t.latency.maxMs), f2(t.correctedP99Ms ?? NaN), cpuCells(p.path, t, true), f1(t.upstreamMsPer1000), String(t.errors)]; })),
    "",
    "### Throughput (wrk, full speed)",
    "",
    table(["path", "req/s", "req/s range", "p50 ms", "p99 ms", "CPU µs/req", "req per proxy CPU-second", "upstream µs/req", "errors"],
      d.paths.map((p) => { const t = p.throughput; return [p.path, f0(t.requestsPerS), `${f0(t.requestsPerSRange[0])}-${f0(t.requestsPerSRange[1])}`, f2(t.latency.p50Ms), f2(t.latency.p99Ms), cpuCells(p.path, t, false), p.path === "direct" ? "-" : f0(t.requestsPerProxyCoreS), f1(t.upstreamMsPer1000), String(t.errors)]; })),
    "",
    "Per proxy, the CPU figures above are per request; the same per proxy core: Mizzen's two sidecars and HAProxy's two instances each carry every request once, so requests per proxy CPU-second = 1e6 / (sum of the two µs/req).",
    "",
    "### Memory per proxy (MiB)",
    "",
    table(["proxy", "VmRSS at 1000 req/s", "VmHWM at 1000 req/s", "private (RssAnon) at 1000 req/s", "PSS at 1000 req/s", "VmRSS at end", "VmHWM at end", "private at end"],
      d.headline.memory.map((m) => [proxyName(m.path, m.role), mib(m.at1000.rssKb), mib(m.at1000.hwmKb), optMib(m.at1000.anonKb), optMib(m.at1000.pssKb), mib(m.atEnd.rssKb), mib(m.atEnd.hwmKb), optMib(m.atEnd.anonKb)])),
    "",
    "\"At 1000 req/s\": read after the first constant-rate run, when only constant-rate load (and start-up) had passed through; VmHWM is the process's peak so far. \"At end\": after every run, full-speed wrk included. Private (RssAnon) is the memory only this process holds; the rest of VmRSS is file-backed (the node or haproxy binary's pages), shared by every process running the same binary, and PSS counts this process's share of it.",
    "",
    "### Every run",
    "",
    table(["round", "path", "test", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "CPU µs/req by process", "errors"],
      d.samples.map((s) => [String(s.round), s.path, s.test, f0(s.requests), f0(s.requestsPerS), f2(s.latency.p50Ms), f2(s.latency.p99Ms), f2(s.latency.maxMs), s.processes.map((p) => `${p.role === "upstream" ? "upstream" : proxyName(s.path, p.role)} ${f1(p.msPer1000)}`).join(", "), String(s.errors)])),
    "",
  ];
  return out;
}

function controlSection(r: Issue6Result): string[] {
  const c = r.controlPlane!;
  const rows = [...c.results].sort((a, b) => a.services - b.services || a.proxies - b.proxies);
  return [
    "## Control plane",
    "",
    `\`mizzen control\` (child process, plaintext xDS) serves S Services, each with one WorkloadEntry, and a VirtualService for svc-0 with a DestinationRule of three subsets. P simulated sidecars in the benchmark process are the sidecar's own \`AdsClient\` (real gRPC, every resource decoded, ACK after each response), each on its own HTTP/2 connection, subscribing as a sidecar does (LDS and CDS wildcard, RDS and EDS by name). A change = the VirtualService file rewritten to another subset; its latency, per proxy, runs from the file write to the moment that proxy holds the new RouteConfiguration and ACKs it. ${c.changes} changes per point. The floor is the directory watch's 50 ms debounce plus the ADS push debounce (100 ms). Bytes per change: what the control plane wrote (/proc/<pid>/io wchar: gRPC and HTTP/2 framing included). Memory per proxy: (RSS with P connected - RSS idle) / P. The simulated proxies' decoding runs on the benchmark's one thread and shares the 2 cores with the control plane: its CPU per change is shown, since at large P it queues the last proxies' ACKs.`,
    "",
    table(["proxies", "services", "initial sync s", "change min ms", "p50 ms", "p99 ms", "max ms", "control CPU s / change", "CPU µs / proxy / change", "control RSS idle MiB", "RSS with proxies MiB", "KiB / proxy", "MB pushed / change", "KB / proxy / change", "responses / change", "bench client CPU s / change"],
      rows.map((x) => [f0(x.proxies), f0(x.services), f1(x.initialSyncMs / 1000), f0(x.minMs), f0(x.p50Ms), f0(x.p99Ms), f0(x.maxMs), f2(x.controlCpuPerChangeS), f0(x.controlCpuPerProxyUs), mib(x.controlIdle.rssKb), mib(x.controlWithProxies.rssKb), f0(x.memoryPerProxyKb), f1(x.bytesPerChange / 1e6), f1(x.bytesPerProxyPerChange / 1e3), Object.entries(x.pushesPerChange).map(([t, v]) => `${t} ${f0(v)}`).join(", ") || "-", f2(x.clientCpuPerChangeS)])),
    "",
    ...growthLines(rows),
    "",
  ];
}

/** How each figure grows from the smallest to the largest point at a fixed service count, and across service counts. */
export function growthLines(rows: ScaleResult[]): string[] {
  const out: string[] = ["How it grows:", ""];
  for (const s of [...new Set(rows.map((x) => x.services))]) {
    const at = rows.filter((x) => x.services === s).sort((a, b) => a.proxies - b.proxies);
    if (at.length < 2) continue;
    const [lo, hi] = [at[0]!, at[at.length - 1]!];
    const k = hi.proxies / lo.proxies;
    out.push(`- ${f0(s)} services, ${f0(lo.proxies)} -> ${f0(hi.proxies)} proxies (x${f1(k)}): p99 x${f1(hi.p99Ms / lo.p99Ms)}, control CPU per change x${f1(hi.controlCpuPerChangeS / lo.controlCpuPerChangeS)}, bytes per change x${f1(hi.bytesPerChange / lo.bytesPerChange)}, RSS with proxies x${f1(hi.controlWithProxies.rssKb / lo.controlWithProxies.rssKb)}.`);
  }
  for (const p of [...new Set(rows.map((x) => x.proxies))]) {
    const at = rows.filter((x) => x.proxies === p).sort((a, b) => a.services - b.services);
    if (at.length < 2) continue;
    const [lo, hi] = [at[0]!, at[at.length - 1]!];
    out.push(`- ${f0(p)} proxies, ${f0(lo.services)} -> ${f0(hi.services)} services (x${f1(hi.services / lo.services)}): p99 x${f1(hi.p99Ms / lo.p99Ms)}, bytes per proxy per change x${f1(hi.bytesPerProxyPerChange / lo.bytesPerProxyPerChange)}, control CPU per proxy per change x${f1(hi.controlCpuPerProxyUs / lo.controlCpuPerProxyUs)}, memory per proxy x${f1(hi.memoryPerProxyKb / lo.memoryPerProxyKb)}.`);
  }
  return out;
}

function profileSection(p: SidecarProfile): string[] {
  const s = p.summary;
  return [
    `## Where sidecar A's CPU goes at 1000 req/s with mTLS`,
    "",
    `${p.sidecar} restarted under \`node --cpu-prof\`, then ${p.load} (${f0(p.requests)} requests); the profile is cut to that window. Busy ${f0(s.busyMs)} ms of ${f0(s.sampledMs)} ms (${((s.busyMs / s.sampledMs) * 100).toFixed(1)}% of a core; GC ${f0(s.gcMs)} ms). Self time by origin: our src/ ${f0(s.selfByOrigin.ours)} ms, node_modules ${f0(s.selfByOrigin.nodeModules)} ms, Node/V8 and native ${f0(s.selfByOrigin.runtime)} ms. Busy time per request: ${f1((s.busyMs * 1000) / p.requests)} µs (the profiler's own overhead included).`,
    "",
    "Top 15 by self time:",
    "",
    table(["#", "function", "where", "self ms", "% of busy"], profileFunctionRows(p.topSelf, s.busyMs, "self", 1)),
    "",
    "Our code (src/) by total time, callees included:",
    "",
    table(["#", "function", "where", "total ms", "% of busy"], profileFunctionRows(p.topOursTotal, s.busyMs, "total", 1)),
    "",
    ...(p.nativeCallers.length ? ["Nearest JavaScript caller of the top native functions:", "", ...p.nativeCallers.map((n) => `- \`${n.native}\`: ${n.callers.map((c) => `\`${c.caller}\` ${f0(c.ms)} ms`).join("; ")}`), ""] : []),
  ];
}

function heapSection(h: IdleHeap): string[] {
  const heap = h.heap;
  return [
    "## Where an idle sidecar's memory goes",
    "",
    `${h.sidecar}: VmRSS ${mib(h.memory.rssKb)} MiB (${mb(h.memory.rssKb)} MB), VmHWM ${mib(h.memory.hwmKb)} MiB. The heap snapshot (\`--heapsnapshot-signal\`, taken after a full GC) holds ${f0(heap.nodes)} reachable objects, ${(heap.totalBytes / 2 ** 20).toFixed(1)} MiB of JavaScript heap: the rest of the RSS is V8's reserved pages and code space, Node's and OpenSSL's native memory, and the binary itself.`,
    "",
    "By kind of object (own size):",
    "",
    table(["kind", "objects", "MiB"], heap.byKind.slice(0, 10).map((k) => [k.kind, f0(k.count), (k.selfBytes / 2 ** 20).toFixed(2)])),
    "",
    "Largest retained object types (DevTools' Summary: retained = what would be freed with them; an object inside another of its own class counts once):",
    "",
    table(["#", "class", "objects", "own KiB", "retained KiB"], heap.classes.map((c, i) => [String(i + 1), `\`${c.name}\``, f0(c.count), f0(c.selfBytes / 1024), f0(c.retainedBytes / 1024)])),
    "",
    ...(heap.stringBands ? ["Strings by size:", "", table(["size", "strings", "KiB"], heap.stringBands.map((b) => [b.band, f0(b.count), f0(b.bytes / 1024)])), ""] : []),
    ...(heap.largestStrings?.length ? ["Largest strings (module sources show as their first line):", "", table(["KiB", "starts with"], heap.largestStrings.map((x) => [f1(x.bytes / 1024), `\`${x.preview.replace(/[`|]/g, "'")}\``])), ""] : []),
  ];
}

export function formatIssue6Markdown(r: Issue6Result): string {
  const m = r.machine;
  const out = [
    "# Where Mizzen stands (issue 6)",
    "",
    table(["date", "commit", "nproc", "cpu", "node", "wrk", "kernel", "load avg start / end", "took"], [[m.date, `${m.commit ?? "?"}${m.changedFiles ? ` + ${m.changedFiles} changed files under src/` : ""}`, String(m.nproc), m.cpu, m.node, m.wrk, m.kernel, `${f2(m.loadStart)} / ${f2(m.loadEnd ?? NaN)}`, `${f0(r.elapsedS)} s`]]),
    "",
    "Reproduce: `npx node bench/issue6.ts` (Linux; wrk and haproxy on PATH: `apt-get install -y wrk haproxy`). Options: `--rounds N`, `--duration S`, `--warmup S`, `--grid 100x100,1000x1000` (proxies x services), `--changes N`, `--no-data-plane`, `--no-control-plane`, `--no-diagnostics`; `--report-only` rewrites this file from issue6.json. The machine is shared and small: read the ratios, not the absolute numbers.",
    "",
  ];
  if (r.failures.length) out.push("## Failures", "", ...r.failures.map((f) => `- ${f.bench}: ${f.error.split("\n")[0]}`), "");
  if (r.dataPlane) out.push(...headlineSection(r), "");
  out.push(...targetsSection(r));
  if (r.dataPlane) out.push(...dataPlaneSection(r));
  if (r.controlPlane) out.push(...controlSection(r));
  out.push(
    "## Reading these numbers",
    "",
    "- Everything runs on one 2-core machine: the load client, the upstream, the proxies and (for the grid) the simulated proxies compete for the same cores, and other work on the machine shows up as stalls of tens of milliseconds in single rounds. That is why every comparison is made within one run, round by round, and why the headline takes the median over rounds.",
    "- At 1000 req/s every proxy handles one request at a time, so each request pays its own system calls and wake-ups; at full speed the same proxy batches. Both HAProxy and Mizzen spend 2 to 4 times more CPU per request at 1000 req/s than at full speed. Throughput per core is therefore judged on the full-speed runs.",
    "- Loopback system calls are expensive here: a write on a loopback socket also runs the receiving side's TCP stack, so native `writev` / `writeLatin1String` in the profile include that kernel work (and, on the mTLS hop, the encryption).",
    "- Where the sidecar's CPU goes beyond the profile below: `npx node bench/cpu-split.ts` ([cpu-split.md](cpu-split.md)) splits each proxy's CPU into user and system time at 1000, 3000 and 6000 req/s. The system time per request is HAProxy's; the user-space time is 3-4x HAProxy's at every rate. `perf record` on sidecar A at 1000 and at 6000 req/s shows the same functions in both, each about 2.5-3.5x dearer per request at the low rate (caches are cold between requests), so there is no single hot spot left to fix: the gap is the number of instructions Node's streams, V8's generic property access and our code run per request.",
    "- The control-plane latencies include the benchmark's own decoding of every response on one thread (its CPU per change is in the last column); on real, separate proxies that work runs in parallel, so the figures are an upper bound. The control plane's own CPU per change is the better guide to how it scales.",
    "- The commit in the header is what was measured; changed files under src/ (other work in progress in the same tree) were measured with it.",
    "",
  );
  if (r.profile) out.push(...profileSection(r.profile));
  if (r.idleHeap) out.push(...heapSection(r.idleHeap));
  return `${out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}
