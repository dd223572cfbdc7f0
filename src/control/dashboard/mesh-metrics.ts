// The metric families the dashboard reads from a sidecar's page (Istio's standard names), and
// one scrape of them as a snapshot: counters by series, histograms by series with their
// cumulative buckets. Everything else on the page (envoy_* counters, the byte histograms) is
// checked by the parser and then dropped.
import type { PromSample } from "./prometheus-parse.ts";

export const REQUESTS = "istio_requests_total";
export const DURATION = "istio_request_duration_milliseconds";
export const TCP_SENT = "istio_tcp_sent_bytes_total";
export const TCP_RECEIVED = "istio_tcp_received_bytes_total";
export const TCP_OPENED = "istio_tcp_connections_opened_total";
export const TCP_CLOSED = "istio_tcp_connections_closed_total";

const COUNTERS: ReadonlySet<string> = new Set([REQUESTS, TCP_SENT, TCP_RECEIVED, TCP_OPENED, TCP_CLOSED]);
const HISTOGRAMS: ReadonlySet<string> = new Set([DURATION]);

export type Labels = Readonly<Record<string, string>>;

export interface CounterPoint {
  name: string;
  labels: Labels;
  value: number;
}

export interface HistogramPoint {
  name: string;
  /** Without `le`. */
  labels: Labels;
  /** Upper bound -> cumulative count (the +Inf bucket included). */
  buckets: Map<number, number>;
  /** Observations in all (the +Inf bucket, else _count). */
  count: number;
}

/** One scrape of one proxy, by series key. */
export interface MetricsSnapshot {
  counters: Map<string, CounterPoint>;
  histograms: Map<string, HistogramPoint>;
}

/** Is this sample name one the dashboard keeps (a counter, or a histogram's _bucket / _count)? */
export function keepSample(name: string): boolean {
  if (COUNTERS.has(name)) return true;
  if (name.endsWith("_bucket")) return HISTOGRAMS.has(name.slice(0, -7));
  if (name.endsWith("_count")) return HISTOGRAMS.has(name.slice(0, -6));
  return false;
}

/** name{a="x",b="y"} with labels sorted, `le` left out: one key per time series. */
export function seriesKey(name: string, labels: Labels): string {
  const keys = Object.keys(labels).filter((k) => k !== "le").sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(",")}}`;
}

function withoutLe(labels: Labels): Labels {
  if (!("le" in labels)) return labels;
  const { le: _le, ...rest } = labels;
  return rest;
}

export function snapshotOf(samples: readonly PromSample[]): MetricsSnapshot {
  const counters = new Map<string, CounterPoint>();
  const histograms = new Map<string, HistogramPoint>();
  const explicitCount = new Map<string, number>();
  for (const s of samples) {
    if (COUNTERS.has(s.name)) {
      counters.set(seriesKey(s.name, s.labels), { name: s.name, labels: s.labels, value: s.value });
      continue;
    }
    const bucket = s.name.endsWith("_bucket");
    const base = s.name.slice(0, bucket ? -7 : -6);
    if (!HISTOGRAMS.has(base)) continue;
    const key = seriesKey(base, s.labels);
    let h = histograms.get(key);
    if (!h) {
      h = { name: base, labels: withoutLe(s.labels), buckets: new Map(), count: 0 };
      histograms.set(key, h);
    }
    if (!bucket) {
      explicitCount.set(key, s.value);
      continue;
    }
    const le = s.labels.le === undefined ? undefined : s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    if (le === undefined || Number.isNaN(le)) continue; // a bucket without a bound says nothing
    h.buckets.set(le, s.value);
  }
  for (const [key, h] of histograms) {
    const inf = h.buckets.get(Infinity);
    h.count = inf ?? explicitCount.get(key) ?? 0;
    if (inf === undefined) h.buckets.set(Infinity, h.count);
  }
  return { counters, histograms };
}
