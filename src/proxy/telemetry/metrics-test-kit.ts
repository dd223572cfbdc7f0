// Test helpers (not used by production code): read samples back out of a Prometheus page.

export type Labels = Record<string, string>;
export interface PromSample { labels: Labels; value: number }

/** Every sample of one metric name (exactly that name: no _bucket/_sum unless asked). */
export function samples(text: string, metric: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("} ");
    const labels: Labels = {};
    for (const m of line.slice(metric.length + 1, close).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ labels, value: Number(line.slice(close + 2)) });
  }
  return out;
}

/** The samples of `metric` whose labels include all of `want`. */
export function matching(text: string, metric: string, want: Labels): PromSample[] {
  return samples(text, metric).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `metric` matching `want` (undefined when none; throws when several). */
export function one(text: string, metric: string, want: Labels): PromSample | undefined {
  const m = matching(text, metric, want);
  if (m.length > 1) throw new Error(`${m.length} ${metric} series match ${JSON.stringify(want)}:\n${m.map((s) => JSON.stringify(s.labels)).join("\n")}`);
  return m[0];
}

export async function eventually(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
