// The window arithmetic: counter increases across restarts, rates, histogram bucket deltas
// and histogram_quantile's interpolation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { histogramQuantile, sumBuckets } from "./quantile.ts";
import { RateWindow, counterIncrease, windowOf, type TimedSnapshot } from "./rate-window.ts";
import { parsePrometheusText } from "./prometheus-parse.ts";
import { keepSample, snapshotOf } from "./mesh-metrics.ts";

const b = (pairs: [number, number][]) => pairs.map(([le, count]) => ({ le, count }));

test("histogramQuantile interpolates inside the bucket the rank falls in, as Prometheus does", () => {
  const h = b([[1, 1], [5, 3], [10, 4], [Infinity, 5]]);
  assert.equal(histogramQuantile(0.5, h), 4); // rank 2.5: 1 + (5-1) * 1.5/2
  assert.equal(histogramQuantile(0.6, h), 5);
  assert.equal(histogramQuantile(0.1, h), 0.5); // first bucket starts at 0
  assert.equal(histogramQuantile(0.99, h), 10, "a rank in +Inf answers the highest finite bound");
  assert.equal(histogramQuantile(0.5, [...h].reverse()), 4, "order of the input does not matter");
  assert.equal(histogramQuantile(0.99, b([[1, 0], [Infinity, 0]])), null, "no observations: no quantile");
  assert.equal(histogramQuantile(0.99, b([[1, 3], [5, 4]])), null, "no +Inf bucket");
  assert.equal(histogramQuantile(0.99, b([[Infinity, 4]])), null, "one bucket");
  // A count lower than the bucket below it (a reset seen half-way) is evened out: 5 counts 2.
  assert.equal(histogramQuantile(0.5, b([[1, 2], [5, 1], [Infinity, 4]])), 1);
  assert.equal(histogramQuantile(0.75, b([[1, 2], [5, 1], [Infinity, 4]])), 5);
  // Istio's buckets: 100 requests all between 25 and 50 ms -> p99 = 25 + 25 * 99/100.
  assert.equal(histogramQuantile(0.99, b([[10, 0], [25, 0], [50, 100], [100, 100], [Infinity, 100]])), 49.75);
});

test("sumBuckets adds series bound by bound, like sum by (le)", () => {
  const sum = sumBuckets([b([[1, 1], [5, 2], [Infinity, 3]]), b([[1, 0], [5, 4], [Infinity, 4]])]);
  assert.deepEqual(sum, b([[1, 1], [5, 6], [Infinity, 7]]));
  // A series missing a bound counts what it has below it.
  assert.deepEqual(sumBuckets([b([[1, 1], [Infinity, 3]]), b([[5, 2], [Infinity, 2]])]), b([[1, 1], [5, 3], [Infinity, 5]]));
});

test("counterIncrease: steps add up; a drop is a restart counted from zero; a new series starts at zero", () => {
  assert.equal(counterIncrease([10, 15, 3, 8]), 5 + 3 + 5);
  assert.equal(counterIncrease([undefined, 4, 6]), 6);
  assert.equal(counterIncrease([7]), 0, "one scrape is only a baseline");
  assert.equal(counterIncrease([7, undefined, 9]), 9, "absent in between: the sidecar restarted");
  assert.equal(counterIncrease([]), 0);
});

/** A snapshot of one sidecar page holding these requests and duration buckets. */
function page(at: number, requests: number, buckets: [string, number][]): TimedSnapshot {
  const labels = 'reporter="source",source_workload="a",destination_service="b.default.svc.cluster.local",response_code="200"';
  const text = [`istio_requests_total{${labels}} ${requests}`, ...buckets.map(([le, n]) => `istio_request_duration_milliseconds_bucket{${labels},le="${le}"} ${n}`)].join("\n");
  return { at, snapshot: snapshotOf(parsePrometheusText(text, keepSample)) };
}

test("windowOf: the rate spans oldest to newest scrape; histogram deltas survive a restart", () => {
  const w = windowOf([
    page(0, 100, [["10", 50], ["50", 100], ["+Inf", 100]]),
    page(2000, 120, [["10", 50], ["50", 120], ["+Inf", 120]]),
    // The sidecar restarted: everything counts from zero again.
    page(4000, 10, [["10", 0], ["50", 10], ["+Inf", 10]]),
  ]);
  assert.equal(w.counters.length, 1);
  assert.equal(w.counters[0].rate, (20 + 10) / 4);
  assert.equal(w.counters[0].labels.source_workload, "a");
  assert.deepEqual(w.histograms[0].buckets, b([[10, 0], [50, 30], [Infinity, 30]]));
  // 30 observations in (10, 50]: p99 = 10 + 40 * 29.7/30
  assert.ok(Math.abs(histogramQuantile(0.99, w.histograms[0].buckets)! - 49.6) < 1e-9);

  const single = windowOf([page(0, 100, [["+Inf", 100]])]);
  assert.equal(single.counters[0].rate, 0, "a single scrape has no rate yet, but the series is there");
});

test("RateWindow keeps each proxy's scrapes of the window and forgets proxies that left", () => {
  const win = new RateWindow(10_000);
  for (let t = 0; t <= 20_000; t += 2000) win.record("p1", t, page(t, t / 100, [["+Inf", t / 100]]).snapshot);
  win.record("p2", 20_000, page(20_000, 5, [["+Inf", 5]]).snapshot);
  const rates = win.samples().counters.map((c) => c.rate).sort();
  assert.deepEqual(rates, [0, 10], "p1: 100 requests over the 10 s window; p2: first scrape only");
  win.prune(new Set(["p2"]), 20_000);
  assert.deepEqual(win.samples().counters.map((c) => c.rate), [0]);
  win.prune(new Set(["p2"]), 40_000);
  assert.equal(win.samples().counters.length, 0, "scrapes older than the window fade out");
});
