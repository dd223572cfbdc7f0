// A lean writer for Prometheus' text exposition format (version 0.0.4): counters and
// histograms whose label sets are pre-rendered strings, so a scrape is string concatenation
// and recording a sample is a few array writes. No registry, no per-sample label objects.

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `a="x",b="y"` (no braces) for label pairs in the order given; names must already be valid. */
export function renderLabels(pairs: readonly (readonly [string, string])[]): string {
  let out = "";
  for (const [k, v] of pairs) out += `${out ? "," : ""}${k}="${escapeLabelValue(v)}"`;
  return out;
}

/** HELP text escapes only backslash and newline. */
function escapeHelp(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A number the way Prometheus parses it (+Inf, -Inf, NaN spelled out). */
export function formatValue(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return String(n);
}

export class Histogram {
  /** Upper bounds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is the +Inf overflow. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    // Bounds lists are short (about 20); a linear scan beats a binary search here.
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/** One time series: its rendered label string and its value or histogram. */
export interface CounterSample { labels: string; value: number }
export interface HistogramSample { labels: string; histogram: Histogram }

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

function series(name: string, labels: string, value: string): string {
  return labels ? `${name}{${labels}} ${value}\n` : `${name} ${value}\n`;
}

export function writeCounter(name: string, help: string, samples: Iterable<CounterSample>, type: "counter" | "gauge" = "counter"): string {
  let out = header(name, help, type);
  for (const s of samples) out += series(name, s.labels, formatValue(s.value));
  return out;
}

/** Bucket lines are cumulative and end with le="+Inf", which equals _count. */
export function writeHistogram(name: string, help: string, samples: Iterable<HistogramSample>): string {
  let out = header(name, help, "histogram");
  const bucketName = `${name}_bucket`;
  let leCache: string[] | undefined;
  let leFor: readonly number[] | undefined;
  for (const s of samples) {
    const h = s.histogram;
    if (leFor !== h.bounds) {
      leFor = h.bounds;
      leCache = h.bounds.map((b) => `le="${formatValue(b)}"`);
    }
    const sep = s.labels ? `${s.labels},` : "";
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i];
      out += `${bucketName}{${sep}${leCache![i]}} ${cumulative}\n`;
    }
    out += `${bucketName}{${sep}le="+Inf"} ${h.count}\n`;
    out += series(`${name}_sum`, s.labels, formatValue(h.sum));
    out += series(`${name}_count`, s.labels, String(h.count));
  }
  return out;
}

/** A metric name Prometheus accepts, from a dotted Envoy-style stat name. */
export function metricName(s: string): string {
  const n = s.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[0-9]/.test(n) ? `_${n}` : n;
}
