// bench/metrics-overhead.ts's numbers: samples per round, the on/off summary per path
// (medians over rounds, so one noisy round on this shared machine does not decide), the
// profile's telemetry share, and the Markdown page.
import type { FunctionTime, ProfileSummary } from "./cpuprofile.ts";

export type PathName = "1 sidecar" | "2 sidecars (mTLS)";

export interface MetricsSample {
  round: number;
  path: PathName;
  metrics: "on" | "off";
  /** Which of the two identical sidecar pairs ran it (they exchange roles half way). */
  pair?: string;
  requests: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU microseconds per request, per sidecar on the path ("server", "client"). */
  cpuUsPerRequest: Record<string, number>;
}

export interface PathSummary {
  path: PathName;
  rounds: number;
  onRps: number;
  offRps: number;
  /** Median on-rps / median off-rps. */
  throughputRatio: number;
  /** What recording costs in throughput, percent (100 * (1 - ratio)). */
  costPercent: number;
  /** Median CPU µs per request per sidecar, with metrics on and off. */
  cpuUsOn: Record<string, number>;
  cpuUsOff: Record<string, number>;
  p50MsOn: number;
  p50MsOff: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianBySidecar(samples: readonly MetricsSample[]): Record<string, number> {
  const out: Record<string, number> = {};
  const names = new Set(samples.flatMap((s) => Object.keys(s.cpuUsPerRequest)));
  for (const n of [...names].sort()) out[n] = median(samples.map((s) => s.cpuUsPerRequest[n]!).filter((v) => v !== undefined));
  return out;
}

export function summarise(samples: readonly MetricsSample[]): PathSummary[] {
  const paths = [...new Set(samples.map((s) => s.path))];
  return paths.map((path) => {
    const on = samples.filter((s) => s.path === path && s.metrics === "on");
    const off = samples.filter((s) => s.path === path && s.metrics === "off");
    const onRps = median(on.map((s) => s.requestsPerS));
    const offRps = median(off.map((s) => s.requestsPerS));
    const ratio = onRps / offRps;
    return {
      path,
      rounds: Math.min(on.length, off.length),
      onRps,
      offRps,
      throughputRatio: ratio,
      costPercent: 100 * (1 - ratio),
      cpuUsOn: medianBySidecar(on),
      cpuUsOff: medianBySidecar(off),
      p50MsOn: median(on.map((s) => s.p50Ms)),
      p50MsOff: median(off.map((s) => s.p50Ms)),
    };
  });
}

export interface TelemetryShare {
  sidecar: string;
  busyMs: number;
  /** Self time of every function in src/proxy/telemetry/ (no double counting). */
  telemetrySelfMs: number;
  /** IstioMetrics.record, callees included. */
  recordTotalMs: number;
  /** The label code: rendering label strings and applying overrides (new series only), callees included. */
  labelTotalMs: number;
  /** Peer metadata headers taken from and added to requests and responses. */
  peerHeadersTotalMs: number;
  top: Pick<FunctionTime, "name" | "location" | "selfMs" | "totalMs">[];
}

const TELEMETRY = "src/proxy/telemetry/";
const LABEL_FUNCTIONS = new Set(["renderLabels", "escapeLabelValue", "labelsWithRules", "identityPairs", "cell"]);

function totalOf(fs: readonly FunctionTime[], pick: (f: FunctionTime) => boolean): number {
  // A function name can appear at several lines (overloads, closures): sum them, they do not nest.
  return fs.filter(pick).reduce((n, f) => n + f.totalMs, 0);
}

/** The telemetry code's share of one sidecar's profile. */
export function telemetryShare(sidecar: string, s: ProfileSummary): TelemetryShare {
  const ours = s.functions.filter((f) => f.location.includes(TELEMETRY));
  return {
    sidecar,
    busyMs: s.busyMs,
    telemetrySelfMs: ours.reduce((n, f) => n + f.selfMs, 0),
    recordTotalMs: totalOf(ours, (f) => f.name === "record" && f.location.includes("istio-metrics.ts")),
    labelTotalMs: totalOf(ours, (f) => LABEL_FUNCTIONS.has(f.name)),
    peerHeadersTotalMs: totalOf(ours, (f) => f.name === "takePeerHeaders" || f.name === "addPeerHeaders"),
    top: [...ours].sort((a, b) => b.selfMs - a.selfMs).slice(0, 8).map(({ name, location, selfMs, totalMs }) => ({ name, location, selfMs, totalMs })),
  };
}

export interface MetricsBenchResult {
  machine: Record<string, string | number>;
  config: Record<string, number | string>;
  summary: PathSummary[];
  samples: MetricsSample[];
  profile?: { load: string; requestsPerS: number; shares: TelemetryShare[] };
  elapsedS: number;
}

const f1 = (n: number) => n.toFixed(1);
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "-");

export function formatMetricsMarkdown(r: MetricsBenchResult): string {
  const lines = [
    "# Istio metrics on vs off (bench/metrics-overhead.ts)",
    "",
    `${r.machine.date} · ${r.machine.cpu} · ${r.machine.nproc} cores · node ${r.machine.node} · ${r.machine.wrk} · load ${r.machine.loadStart} -> ${r.machine.loadEnd}`,
    "",
    `wrk ${r.config.threads} threads, ${r.config.connections} connections, ${r.config.durationS} s per run after ${r.config.warmupS} s warm-up; ${r.config.rounds} rounds, on and off alternating (the order flips every round); medians over rounds; half way the two sidecar pairs exchange roles. 1 KiB answers. "off" = both sidecars started with --no-metrics (no recording, no peer metadata exchange).`,
    "",
    "| path | metrics off req/s | metrics on req/s | on/off | cost | CPU µs/req off | CPU µs/req on | p50 off / on (ms) |",
    "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
  ];
  for (const s of r.summary) {
    const cpu = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${f1(v)}`).join(", ");
    lines.push(`| ${s.path} | ${Math.round(s.offRps)} | ${Math.round(s.onRps)} | ${s.throughputRatio.toFixed(3)} | ${f1(s.costPercent)} % | ${cpu(s.cpuUsOff)} | ${cpu(s.cpuUsOn)} | ${s.p50MsOff.toFixed(2)} / ${s.p50MsOn.toFixed(2)} |`);
  }
  lines.push("", "## Every run", "", "| round | path | metrics (pair) | req/s | p50 ms | p99 ms | CPU µs/req | errors |", "| ---: | --- | --- | ---: | ---: | ---: | --- | ---: |");
  for (const s of r.samples) {
    lines.push(`| ${s.round} | ${s.path} | ${s.metrics}${s.pair ? ` (${s.pair})` : ""} | ${Math.round(s.requestsPerS)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${Object.entries(s.cpuUsPerRequest).map(([k, v]) => `${k} ${f1(v)}`).join(", ")} | ${s.errors} |`);
  }
  if (r.profile) {
    lines.push("", `## Profile: both sidecars with metrics on under \`node --cpu-prof\` (${r.profile.load}, ${Math.round(r.profile.requestsPerS)} req/s)`, "",
      "| sidecar | busy ms | src/proxy/telemetry self | record() total | label code total | peer headers total |", "| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const p of r.profile.shares) {
      lines.push(`| ${p.sidecar} | ${Math.round(p.busyMs)} | ${f1(p.telemetrySelfMs)} ms (${pct(p.telemetrySelfMs, p.busyMs)}) | ${f1(p.recordTotalMs)} ms (${pct(p.recordTotalMs, p.busyMs)}) | ${f1(p.labelTotalMs)} ms (${pct(p.labelTotalMs, p.busyMs)}) | ${f1(p.peerHeadersTotalMs)} ms (${pct(p.peerHeadersTotalMs, p.busyMs)}) |`);
    }
    for (const p of r.profile.shares) {
      lines.push("", `Top telemetry functions by self time, ${p.sidecar}:`, "", "| function | self ms | total ms |", "| --- | ---: | ---: |");
      for (const t of p.top) lines.push(`| ${t.name} ${t.location} | ${f1(t.selfMs)} | ${f1(t.totalMs)} |`);
    }
  }
  lines.push("", `Elapsed ${Math.round(r.elapsedS)} s.`, "");
  return lines.join("\n");
}
