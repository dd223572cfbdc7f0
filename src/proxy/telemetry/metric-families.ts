// One metric family = one metric name and its series, each a cell keyed by its rendered label
// string. Reporters hold direct references to the cells a request or connection updates, so
// recording never looks a family up; two paths that end in the same labels (a config change
// that kept them, an override that removed the tag telling them apart) share one cell, so
// a scrape never shows a label set twice.
import { Histogram, renderLabels, writeCounter, writeHistogram } from "./prometheus-text.ts";
import type { MetricRules } from "./stats-config.ts";

export type LabelPair = readonly [string, string];

export interface CounterCell { value: number }

export class CounterFamily {
  readonly name: string;
  readonly help: string;
  readonly cells = new Map<string, CounterCell>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  cell(labels: string): CounterCell {
    let c = this.cells.get(labels);
    if (!c) {
      c = { value: 0 };
      this.cells.set(labels, c);
    }
    return c;
  }

  render(): string {
    const samples: { labels: string; value: number }[] = [];
    for (const [labels, c] of this.cells) samples.push({ labels, value: c.value });
    return writeCounter(this.name, this.help, samples);
  }
}

export class HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly bounds: readonly number[];
  readonly cells = new Map<string, Histogram>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
  }

  cell(labels: string): Histogram {
    let h = this.cells.get(labels);
    if (!h) {
      h = new Histogram(this.bounds);
      this.cells.set(labels, h);
    }
    return h;
  }

  render(): string {
    const samples: { labels: string; histogram: Histogram }[] = [];
    for (const [labels, histogram] of this.cells) samples.push({ labels, histogram });
    return writeHistogram(this.name, this.help, samples);
  }
}

/**
 * The labels of one metric after a Telemetry override: tags removed, or set (replaced in
 * place, or appended) from a literal or a request-dependent value (`dynamic[rule.dynamic]`).
 * Undefined when the metric is dropped. Runs once per new series, never per request.
 */
export function labelsWithRules(pairs: readonly LabelPair[], m: MetricRules, dynamic: readonly string[]): string | undefined {
  if (m.drop) return undefined;
  const out: [string, string][] = pairs.map(([k, v]) => [k, v]);
  for (const r of m.rules) {
    const at = out.findIndex(([k]) => k === r.tag);
    if (r.remove) {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    const value = r.source?.kind === "literal" ? r.source.value : dynamic[r.dynamic] ?? "unknown";
    if (at >= 0) out[at]![1] = value;
    else out.push([r.tag, value]);
  }
  return renderLabels(out);
}
