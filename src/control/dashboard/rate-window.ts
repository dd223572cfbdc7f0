// Rates over a sliding window of scrapes. Each proxy keeps its own scrapes of the last
// `windowMs`; a counter's increase is the sum of its steps between consecutive scrapes, where
// a step that goes down means the sidecar restarted and counted again from zero (Prometheus's
// rule in rate()), and a series that appears after the first scrape started from zero. The
// rate is that increase over the time between the oldest and newest scrape. Histograms get
// the same treatment bucket by bucket, so a p99 is computed from the window's observations
// only, not from everything since the sidecar started.
import type { Bucket } from "./quantile.ts";
import type { CounterPoint, HistogramPoint, Labels, MetricsSnapshot } from "./mesh-metrics.ts";

export interface TimedSnapshot {
  /** When the scrape answered (ms). */
  at: number;
  snapshot: MetricsSnapshot;
}

export interface CounterRate {
  name: string;
  labels: Labels;
  /** Per second over the window; 0 when the window holds a single scrape. */
  rate: number;
}

export interface HistogramIncrease {
  name: string;
  labels: Labels;
  /** Cumulative observations added within the window, ascending bounds, +Inf last. */
  buckets: Bucket[];
}

/** Everything the graph needs from the metrics, all proxies together. */
export interface WindowSamples {
  counters: CounterRate[];
  histograms: HistogramIncrease[];
}

/**
 * The increase of one series over consecutive scrapes (undefined = absent from that scrape).
 * The first scrape is the baseline; a value lower than the one before is a restart.
 */
export function counterIncrease(values: readonly (number | undefined)[]): number {
  let total = 0;
  for (let i = 1; i < values.length; i++) {
    const cur = values[i];
    if (cur === undefined) continue;
    const prev = values[i - 1] ?? 0;
    total += cur >= prev ? cur - prev : cur;
  }
  return total;
}

function histogramIncrease(points: readonly (HistogramPoint | undefined)[]): Bucket[] {
  const sums = new Map<number, number>();
  for (const p of points) for (const le of p?.buckets.keys() ?? []) sums.set(le, 0);
  for (let i = 1; i < points.length; i++) {
    const cur = points[i];
    if (!cur) continue;
    const prev = points[i - 1];
    // The whole series restarts together: its count going down marks it.
    const reset = prev !== undefined && cur.count < prev.count;
    for (const [le, v] of cur.buckets) {
      const before = reset ? 0 : prev?.buckets.get(le) ?? 0;
      sums.set(le, (sums.get(le) ?? 0) + (v >= before ? v - before : v));
    }
  }
  return [...sums].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** The window's rates and histogram increases for one proxy's scrapes (oldest first). */
export function windowOf(history: readonly TimedSnapshot[]): WindowSamples {
  if (history.length === 0) return { counters: [], histograms: [] };
  const seconds = (history[history.length - 1].at - history[0].at) / 1000;
  const counterKeys = new Map<string, CounterPoint>();
  const histogramKeys = new Map<string, HistogramPoint>();
  for (const h of history) {
    for (const [k, p] of h.snapshot.counters) counterKeys.set(k, p);
    for (const [k, p] of h.snapshot.histograms) histogramKeys.set(k, p);
  }
  const counters: CounterRate[] = [];
  for (const [key, p] of counterKeys) {
    const inc = counterIncrease(history.map((h) => h.snapshot.counters.get(key)?.value));
    counters.push({ name: p.name, labels: p.labels, rate: seconds > 0 ? inc / seconds : 0 });
  }
  const histograms: HistogramIncrease[] = [];
  for (const [key, p] of histogramKeys) {
    histograms.push({ name: p.name, labels: p.labels, buckets: histogramIncrease(history.map((h) => h.snapshot.histograms.get(key))) });
  }
  return { counters, histograms };
}

/** Each proxy's recent scrapes, trimmed to the window as new ones arrive. */
export class RateWindow {
  readonly windowMs: number;
  private readonly byProxy = new Map<string, TimedSnapshot[]>();

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  record(proxy: string, at: number, snapshot: MetricsSnapshot): void {
    let list = this.byProxy.get(proxy);
    if (!list) this.byProxy.set(proxy, (list = []));
    list.push({ at, snapshot });
    while (list.length > 1 && list[0].at < at - this.windowMs) list.shift();
  }

  /** Drops proxies no longer connected, and scrapes older than the window (a proxy whose scrapes keep failing fades out). */
  prune(connected: ReadonlySet<string>, now: number): void {
    for (const [proxy, list] of this.byProxy) {
      while (list.length > 0 && list[0].at < now - this.windowMs) list.shift();
      if (!connected.has(proxy) || list.length === 0) this.byProxy.delete(proxy);
    }
  }

  clear(): void {
    this.byProxy.clear();
  }

  samples(): WindowSamples {
    const out: WindowSamples = { counters: [], histograms: [] };
    for (const list of this.byProxy.values()) {
      const w = windowOf(list);
      out.counters.push(...w.counters);
      out.histograms.push(...w.histograms);
    }
    return out;
  }
}
