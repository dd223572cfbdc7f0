// bench/mtls.ts's result: the samples (one per round, configuration and test), their averages
// with mTLS / plaintext ratios, and bench/results/mtls.md.
import { execFileSync } from "node:child_process";
import type { FunctionTime, SidecarProfile } from "./cpuprofile.ts";
import { markdownTable as table, profileFunctionRows } from "./markdown.ts";
import type { LatencySummary } from "./constant-rate.ts";

export type Security = "plaintext" | "mtls";
/** throughput: wrk at full speed, keep-alive; constant-rate: fixed req/s, keep-alive; new-connection: a lower fixed req/s, a new A -> B connection per request. */
export type TestKind = "throughput" | "constant-rate" | "new-connection";
export const TEST_KINDS: readonly TestKind[] = ["throughput", "constant-rate", "new-connection"];

export interface Sample {
  round: number;
  security: Security;
  test: TestKind;
  requests: number;
  requestsPerS: number;
  /** From the write of a request to the end of its answer. */
  latency: LatencySummary;
  /** constant-rate only: from the moment the request was due (queueing included). */
  corrected?: LatencySummary;
  /** Socket errors, timeouts and non-2xx answers the load client saw. */
  errors: number;
  /** CPU (utime + stime) in ms per 1000 requests, that is µs per request, by process. */
  cpuMsPer1000: Record<string, number>;
  /** Connections sidecar B accepted from A during the run, and how many of them were TLS. */
  connectionsAtoB: number;
  handshakes: number;
  client5xx: number;
}

export interface Averages {
  requestsPerS: number;
  /** Lowest and highest req/s of the rounds: the noise. */
  requestsPerSRange: [number, number];
  latency: LatencySummary;
  corrected?: LatencySummary;
  cpuMsPer1000: Record<string, number>;
  connectionsPer1000: number;
  handshakesPer1000: number;
  errors: number;
}

export interface Comparison {
  test: TestKind;
  plaintext: Averages;
  mtls: Averages;
  /** mtls / plaintext. */
  ratio: { requestsPerS: number; p50: number; p99: number; cpu: Record<string, number> };
  /** mtls - plaintext: latency in ms, CPU in µs per request. */
  added: { p50Ms: number; p90Ms: number; p99Ms: number; cpuUsPerRequest: Record<string, number> };
}

export interface Summary {
  comparisons: Comparison[];
  /**
   * CPU µs per TLS handshake, per sidecar: the extra CPU of a request with a new mTLS connection
   * over one with a new plaintext connection, less the keep-alive mTLS extra (encrypting the
   * request itself), divided by handshakes per request.
   */
  handshakeCpuUs?: Record<string, number>;
  /** What the counters say that the averages do not (e.g. keep-alive not keeping connections). */
  findings: string[];
}

export interface MtlsProfile extends SidecarProfile {
  requestsPerS: number;
  handshakes: number;
}

export interface MtlsBenchResult {
  machine: { date: string; nproc: number; cpu: string; node: string; wrk: string; kernel: string; loadStart: number; loadEnd: number };
  config: {
    rounds: number; threads: number; connections: number; warmupS: number; durationS: number;
    rate: number; rateDurationS: number; newConnectionRate: number; newConnectionDurationS: number; bodyBytes: number;
    clientRestartedOnSecurityChange: string;
  };
  summary: Summary;
  samples: Sample[];
  profile?: MtlsProfile;
  elapsedS: number;
}

export function wrkVersion(): string | undefined {
  try {
    return execFileSync("wrk", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0];
  } catch (err) {
    // wrk -v prints its version and usage, and exits 1.
    const out = String((err as { stdout?: string }).stdout ?? "");
    return out.startsWith("wrk") ? out.split("\n")[0]!.split(" Copyright")[0] : undefined;
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function meanLatency(ls: LatencySummary[]): LatencySummary {
  return { p50Ms: mean(ls.map((l) => l.p50Ms)), p90Ms: mean(ls.map((l) => l.p90Ms)), p99Ms: mean(ls.map((l) => l.p99Ms)), maxMs: Math.max(...ls.map((l) => l.maxMs)), meanMs: mean(ls.map((l) => l.meanMs)) };
}

/** Averages over rounds (max latency: the worst round). */
export function average(samples: Sample[]): Averages {
  const cpu: Record<string, number> = {};
  for (const name of Object.keys(samples[0]!.cpuMsPer1000)) cpu[name] = mean(samples.map((s) => s.cpuMsPer1000[name] ?? 0));
  const corrected = samples.map((s) => s.corrected).filter((c): c is LatencySummary => c !== undefined);
  const rps = samples.map((s) => s.requestsPerS);
  return {
    requestsPerS: mean(rps),
    requestsPerSRange: [Math.min(...rps), Math.max(...rps)],
    latency: meanLatency(samples.map((s) => s.latency)),
    ...(corrected.length ? { corrected: meanLatency(corrected) } : {}),
    cpuMsPer1000: cpu,
    connectionsPer1000: mean(samples.map((s) => (s.connectionsAtoB * 1000) / s.requests)),
    handshakesPer1000: mean(samples.map((s) => (s.handshakes * 1000) / s.requests)),
    errors: samples.reduce((a, s) => a + s.errors + s.client5xx, 0),
  };
}

/** rates: the req/s each constant-rate test asked for, to tell when a configuration fell behind. */
export function summariseSamples(samples: Sample[], rates: Partial<Record<TestKind, number>> = {}): Summary {
  const comparisons: Comparison[] = [];
  for (const test of TEST_KINDS) {
    const of = (sec: Security) => samples.filter((s) => s.test === test && s.security === sec);
    if (!of("plaintext").length || !of("mtls").length) continue;
    const p = average(of("plaintext"));
    const m = average(of("mtls"));
    const cpuRatio: Record<string, number> = {};
    const cpuAdded: Record<string, number> = {};
    for (const name of Object.keys(p.cpuMsPer1000)) {
      cpuRatio[name] = m.cpuMsPer1000[name]! / p.cpuMsPer1000[name]!;
      cpuAdded[name] = m.cpuMsPer1000[name]! - p.cpuMsPer1000[name]!; // ms per 1000 = µs per request
    }
    comparisons.push({
      test, plaintext: p, mtls: m,
      ratio: { requestsPerS: m.requestsPerS / p.requestsPerS, p50: m.latency.p50Ms / p.latency.p50Ms, p99: m.latency.p99Ms / p.latency.p99Ms, cpu: cpuRatio },
      added: { p50Ms: m.latency.p50Ms - p.latency.p50Ms, p90Ms: m.latency.p90Ms - p.latency.p90Ms, p99Ms: m.latency.p99Ms - p.latency.p99Ms, cpuUsPerRequest: cpuAdded },
    });
  }
  const keep = comparisons.find((c) => c.test === "throughput");
  const fresh = comparisons.find((c) => c.test === "new-connection");
  let handshakeCpuUs: Record<string, number> | undefined;
  const findings: string[] = [];
  for (const c of comparisons) {
    if (c.test === "new-connection") continue;
    const [p, m] = [c.plaintext.connectionsPer1000, c.mtls.connectionsPer1000];
    if (m > 10 && m > 5 * p) {
      findings.push(`${c.test}: with keep-alive on, sidecar A opened ${m.toFixed(0)} connections (and TLS handshakes: ${c.mtls.handshakesPer1000.toFixed(0)}) to B per 1000 requests under mTLS, against ${p.toFixed(1)} in plaintext: A does not reuse its mTLS connections, so every request pays a full handshake.`);
    }
  }
  for (const c of comparisons) {
    const rate = rates[c.test];
    if (rate === undefined) continue;
    for (const [name, a] of [["plaintext", c.plaintext], ["mTLS", c.mtls]] as const) {
      if (a.requestsPerS < rate * 0.95 || a.errors > 0) {
        findings.push(`${c.test}: ${name} did not keep up with ${rate} req/s (${a.requestsPerS.toFixed(0)} req/s answered, ${a.errors} errors or timeouts): its latency measures a queue, not a request.`);
      }
    }
  }
  // Only meaningful when keep-alive mTLS really keeps its connections (few handshakes).
  if (keep && fresh && fresh.mtls.handshakesPer1000 > 0 && keep.mtls.handshakesPer1000 < 50) {
    handshakeCpuUs = {};
    for (const name of Object.keys(fresh.added.cpuUsPerRequest)) {
      handshakeCpuUs[name] = (fresh.added.cpuUsPerRequest[name]! - keep.added.cpuUsPerRequest[name]!) / (fresh.mtls.handshakesPer1000 / 1000);
    }
  }
  return { comparisons, ...(handshakeCpuUs ? { handshakeCpuUs } : {}), findings };
}

// ---- markdown ----

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const signed = (n: number, f: (n: number) => string) => `${n >= 0 ? "+" : ""}${f(n)}`;


const SIDECARS = ["client sidecar", "server sidecar"];
const cpuCells = (a: Averages) => [...SIDECARS, "upstream"].map((n) => f1(a.cpuMsPer1000[n] ?? NaN));

function comparisonTable(c: Comparison): string {
  const row = (name: string, a: Averages) => [
    name, f0(a.requestsPerS), `${f0(a.requestsPerSRange[0])}-${f0(a.requestsPerSRange[1])}`,
    f2(a.latency.p50Ms), f2(a.latency.p90Ms), f2(a.latency.p99Ms), f2(a.latency.maxMs),
    ...(a.corrected ? [f2(a.corrected.p99Ms), f2(a.corrected.maxMs)] : []),
    ...cpuCells(a), f1(a.connectionsPer1000), f1(a.handshakesPer1000), String(a.errors),
  ];
  const ratio = [
    "mTLS / plaintext", f2(c.ratio.requestsPerS), "", f2(c.ratio.p50), "", f2(c.ratio.p99), "",
    ...(c.plaintext.corrected ? ["", ""] : []),
    ...[...SIDECARS, "upstream"].map((n) => f2(c.ratio.cpu[n] ?? NaN)), "", "", "",
  ];
  const head = [
    "between sidecars", "req/s", "req/s range", "p50 ms", "p90 ms", "p99 ms", "max ms",
    ...(c.plaintext.corrected ? ["p99 from due ms", "max from due ms"] : []),
    "CPU A µs/req", "CPU B µs/req", "CPU upstream µs/req", "A->B conns / 1000 req", "TLS handshakes / 1000 req", "errors",
  ];
  return table(head, [row("plaintext", c.plaintext), row("mTLS", c.mtls), ratio]);
}

const TITLES: Record<TestKind, (r: MtlsBenchResult) => string> = {
  "throughput": (r) => `### Keep-alive, full speed (wrk ${r.config.threads} threads x ${r.config.connections} connections, ${r.config.durationS} s)`,
  "constant-rate": (r) => `### Keep-alive, constant ${f0(r.config.rate)} req/s (${r.config.connections} connections, ${r.config.rateDurationS} s)`,
  "new-connection": (r) => `### A new A -> B connection per request, constant ${f0(r.config.newConnectionRate)} req/s (${r.config.connections} connections to A, ${r.config.newConnectionDurationS} s; DestinationRule maxRequestsPerConnection: 1)`,
};

function headline(r: MtlsBenchResult): string[] {
  const out: string[] = [];
  const by = (t: TestKind) => r.summary.comparisons.find((c) => c.test === t);
  const keep = by("throughput");
  const rate = by("constant-rate");
  const fresh = by("new-connection");
  const cpu = (c: Comparison) => SIDECARS.map((n) => `${n === "client sidecar" ? "A" : "B"} ${signed(c.added.cpuUsPerRequest[n]!, f1)} µs (x${f2(c.ratio.cpu[n]!)})`).join(", ");
  if (keep) out.push(`- **Keep-alive, full speed:** mTLS gives x${f2(keep.ratio.requestsPerS)} the requests per second; CPU per request ${cpu(keep)}.`);
  if (rate) out.push(`- **At ${f0(r.config.rate)} req/s:** mTLS adds ${signed(rate.added.p50Ms, f2)} ms at p50, ${signed(rate.added.p90Ms, f2)} ms at p90, ${signed(rate.added.p99Ms, f2)} ms at p99; CPU per request ${cpu(rate)}.`);
  if (fresh) out.push(`- **A new A -> B connection per request, ${f0(r.config.newConnectionRate)} req/s:** mTLS adds ${signed(fresh.added.p50Ms, f2)} ms at p50, ${signed(fresh.added.p99Ms, f2)} ms at p99; CPU per request ${cpu(fresh)}.`);
  const h = r.summary.handshakeCpuUs;
  if (h) out.push(`- **One mTLS handshake** costs about ${f0(h["client sidecar"]!)} µs of CPU in sidecar A and ${f0(h["server sidecar"]!)} µs in sidecar B (new-connection extra less keep-alive extra, per handshake).`);
  return out;
}

function profileSection(p: MtlsProfile): string {
  const s = p.summary;
  const rows = (fns: FunctionTime[], by: "self" | "total") => profileFunctionRows(fns, s.busyMs, by, 2);
  const out = [
    `## Profile: ${p.sidecar}, ${p.load}`,
    "",
    `${f0(p.requests)} requests (${f0(p.requestsPerS)} req/s under --cpu-prof), ${f0(p.handshakes)} TLS handshakes. Busy ${f0(s.busyMs)} ms of ${f0(s.sampledMs)} ms sampled ` +
      `(GC ${f0(s.gcMs)} ms); self time: our src/ ${f0(s.selfByOrigin.ours)} ms, node_modules ${f0(s.selfByOrigin.nodeModules)} ms, Node/V8 and native ${f0(s.selfByOrigin.runtime)} ms; ` +
      `busy ${f1((s.busyMs * 1000) / p.requests)} µs per request.`,
    "",
    table(["#", "function (self time)", "where", "self ms", "% of busy"], rows(p.topSelf, "self")),
    "",
    "Our code by total time (callees included):",
    "",
    table(["#", "function", "where", "total ms", "% of busy"], rows(p.topOursTotal, "total")),
  ];
  if (p.nativeCallers.length) {
    out.push("", "Nearest JavaScript caller of the top native functions:", "");
    for (const n of p.nativeCallers) out.push(`- \`${n.native}\`: ${n.callers.map((c) => `\`${c.caller}\` ${f0(c.ms)} ms`).join(", ")}`);
  }
  return out.join("\n");
}

export function formatMtlsMarkdown(r: MtlsBenchResult): string {
  const m = r.machine;
  const c = r.config;
  const samples = r.samples.map((s) => [
    String(s.round), s.security, s.test, f0(s.requests), f0(s.requestsPerS), f2(s.latency.p50Ms), f2(s.latency.p99Ms),
    ...cpuCells({ cpuMsPer1000: s.cpuMsPer1000 } as Averages), String(s.connectionsAtoB), String(s.handshakes), String(s.errors + s.client5xx),
  ]);
  return [
    "# What mTLS between sidecars costs",
    "",
    table(["date", "nproc", "cpu", "node", "wrk", "kernel", "load avg start / end"], [[m.date, String(m.nproc), m.cpu, m.node, m.wrk, m.kernel, `${f2(m.loadStart)} / ${f2(m.loadEnd)}`]]),
    "",
    `Path: load client -> sidecar A (outbound, ${"`"}podIP:15001${"`"} as an HTTP proxy) -> sidecar B (inbound ${"`"}podIP:8080${"`"}) -> upstream (${c.bodyBytes}-byte answers), HTTP/1.1 all the way. ` +
      "Real processes: the control plane with its CA (xDS over TLS, bootstrap tokens), two `mizzen proxy --ca-root` sidecars with ECDSA P-256 workload certificates, the upstream. " +
      "**plaintext** = PeerAuthentication DISABLE mesh-wide + DestinationRule `tls: DISABLE`; **mTLS** = PeerAuthentication STRICT + auto mTLS (no DestinationRule tls). " +
      `${c.rounds} rounds, each plaintext then mTLS; numbers are the mean over rounds (max: the worst round). CPU is utime+stime from /proc per process, in µs per request (= ms per 1000 requests). ` +
      "Connections and handshakes are sidecar B's `downstream_cx_total` and `downstream_cx_ssl_total` counters. Load generator and all processes share the machine's cores.",
    "",
    "## Summary",
    "",
    ...headline(r),
    ...(r.summary.findings.length ? ["", "**Found:**", "", ...r.summary.findings.map((f) => `- ${f}`)] : []),
    "",
    ...r.summary.comparisons.flatMap((cmp) => [TITLES[cmp.test](r), "", comparisonTable(cmp), ""]),
    "Latency at the constant rate is measured by a small open-loop client (`bench/lib/constant-rate.ts`, wrk2-style; no wrk2 or h2load here): " +
      "p50-max from the write of each request, \"from due\" from the time the request was scheduled (includes waiting for a free connection).",
    "",
    "## Every run",
    "",
    table(["round", "between sidecars", "test", "requests", "req/s", "p50 ms", "p99 ms", "CPU A µs/req", "CPU B µs/req", "CPU upstream µs/req", "A->B conns", "handshakes", "errors"], samples),
    "",
    ...(r.profile ? [profileSection(r.profile), ""] : []),
    "## How to reproduce",
    "",
    "```",
    "npx node bench/mtls.ts [--rounds N] [--duration SECONDS] [--no-profile]   # Linux, wrk on PATH (apt-get install -y wrk); about 3 minutes",
    "```",
    "",
    `It writes bench/results/mtls.json (every sample) and this file. Pods use 127.140.1.1 (B) and 127.140.1.2 (A), the upstream 127.140.2.1:8080. ` +
      "The two configurations are switched by rewriting one YAML file the in-process control plane watches; the bench waits until both sidecars' /config_dump show the new " +
      "cluster and listener and a plaintext probe to B's port is refused (mTLS) or answered (plaintext). " +
      `Sidecar A is restarted at every plaintext/mTLS switch: ${c.clientRestartedOnSecurityChange}.`,
    "",
  ].join("\n");
}
