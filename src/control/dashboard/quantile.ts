// Quantiles from histogram buckets, as Prometheus's histogram_quantile() computes them: find
// the bucket the rank falls in and interpolate linearly inside it, assuming observations are
// spread evenly between its bounds. The +Inf bucket answers the highest finite bound.

/** One cumulative bucket: observations <= le. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile (0..1) of cumulative buckets, or null when there is nothing to measure (no
 * observations, no +Inf bucket, fewer than two buckets). Buckets may come in any order;
 * counts that are not monotonic (a reset caught between buckets) are evened out as
 * Prometheus does.
 */
export function histogramQuantile(q: number, input: readonly Bucket[]): number | null {
  if (Number.isNaN(q)) return null;
  const buckets = [...input].sort((a, b) => a.le - b.le);
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return null;
  for (let i = 1; i < buckets.length; i++) {
    if (buckets[i].count < buckets[i - 1].count) buckets[i] = { le: buckets[i].le, count: buckets[i - 1].count };
  }
  const total = buckets[buckets.length - 1].count;
  if (!(total > 0)) return null;
  if (q <= 0) q = 0;
  if (q >= 1) q = 1;
  let rank = q * total;
  let b = buckets.findIndex((x) => x.count >= rank);
  if (b < 0) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let start = 0;
  let count = buckets[b].count;
  if (b > 0) {
    start = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  if (count <= 0) return start;
  return start + (buckets[b].le - start) * (rank / count);
}

/**
 * Adds histograms of several series into one (as `sum by (le)` does). Bounds are unioned; a
 * series without some bound counts, there, what it has at its next lower bound.
 */
export function sumBuckets(series: readonly (readonly Bucket[])[]): Bucket[] {
  const bounds = [...new Set(series.flatMap((s) => s.map((b) => b.le)))].sort((a, b) => a - b);
  const out = bounds.map((le) => ({ le, count: 0 }));
  for (const s of series) {
    const sorted = [...s].sort((a, b) => a.le - b.le);
    let j = 0;
    let last = 0;
    for (const o of out) {
      while (j < sorted.length && sorted[j].le <= o.le) last = sorted[j++].count;
      o.count += last;
    }
  }
  return out;
}
