import { test } from "node:test";
import assert from "node:assert/strict";
import { PrometheusTextError, parsePrometheusText, parseSampleValue } from "./prometheus-parse.ts";
import { Histogram, renderLabels, writeCounter, writeHistogram } from "../../proxy/telemetry/prometheus-text.ts";
import { keepSample, snapshotOf, seriesKey } from "./mesh-metrics.ts";

test("reads what the sidecar's own writer produces: counters, histogram buckets, escaped labels", () => {
  const h = new Histogram([1, 5, 10]);
  for (const v of [0.5, 3, 3, 7, 20]) h.observe(v);
  const labels = renderLabels([["reporter", "source"], ["destination_service", 'we"ird\\host\nx'], ["response_code", "200"]]);
  const page = writeCounter("istio_requests_total", "Requests.", [{ labels, value: 42 }])
    + writeHistogram("istio_request_duration_milliseconds", "Duration.", [{ labels, histogram: h }])
    + writeCounter("envoy_cluster_upstream_rq", "Other.", [{ labels: "", value: 7 }]);
  const all = parsePrometheusText(page);
  const req = all.find((s) => s.name === "istio_requests_total");
  assert.deepEqual(req, { name: "istio_requests_total", labels: { reporter: "source", destination_service: 'we"ird\\host\nx', response_code: "200" }, value: 42 });
  const buckets = all.filter((s) => s.name === "istio_request_duration_milliseconds_bucket").map((s) => [s.labels.le, s.value]);
  assert.deepEqual(buckets, [["1", 1], ["5", 3], ["10", 4], ["+Inf", 5]]);
  assert.equal(all.find((s) => s.name === "envoy_cluster_upstream_rq")?.value, 7);

  const kept = parsePrometheusText(page, keepSample);
  assert.deepEqual([...new Set(kept.map((s) => s.name))].sort(), ["istio_request_duration_milliseconds_bucket", "istio_request_duration_milliseconds_count", "istio_requests_total"]);
  const snap = snapshotOf(kept);
  assert.equal(snap.counters.size, 1);
  const hist = snap.histograms.get(seriesKey("istio_request_duration_milliseconds", req!.labels));
  assert.ok(hist);
  assert.equal(hist.count, 5);
  assert.equal(hist.labels.le, undefined);
  assert.deepEqual([...hist.buckets], [[1, 1], [5, 3], [10, 4], [Infinity, 5]]);
});

test("values, timestamps, spacing, comments and CRLF line ends", () => {
  const page = [
    "# HELP x Something.",
    "# TYPE x counter",
    "",
    "x 1.5e3",
    "x_inf{a=\"b\"} +Inf 1700000000000",
    "x_neg -Inf",
    "x_nan NaN",
    "  x_lead{ a = \"1\" , b=\"2\", } 3\r",
    "x_empty{} 4",
  ].join("\n");
  const s = parsePrometheusText(page);
  assert.deepEqual(s.map((x) => [x.name, x.value]), [["x", 1500], ["x_inf", Infinity], ["x_neg", -Infinity], ["x_nan", NaN], ["x_lead", 3], ["x_empty", 4]]);
  assert.deepEqual(s[4].labels, { a: "1", b: "2" });
  assert.equal(parseSampleValue("0x10"), undefined, "Go's ParseFloat forms beyond decimal are not needed");
  assert.equal(parseSampleValue(""), undefined);
  assert.equal(parseSampleValue(".5"), 0.5);
});

test("anything that is not the format fails the whole page with the line that broke it", () => {
  const cases: [string, RegExp][] = [
    ["<!doctype html>\n<html><body>hello</body></html>", /line 1: expected a metric name/],
    ["ok 1\nistio_requests_total{a=\"b\" 3", /line 2: expected , or \} after a label/],
    ["x{a=\"unterminated} 1", /unterminated value of label a/],
    ["x{a=b} 1", /expected a quoted value for label a/],
    ["x{=\"b\"} 1", /expected a label name/],
    ["x 1 2 3", /at most a timestamp/],
    ["x one", /"one" is not a number/],
    ["x 1 soon", /"soon" is not a timestamp/],
    ["x", /expected a space before the value/],
    ["\u0000\u0001\u0002binary", /line 1: expected a metric name/],
  ];
  for (const [page, re] of cases) {
    assert.throws(() => parsePrometheusText(page), (err: unknown) => err instanceof PrometheusTextError && re.test((err as Error).message), page);
  }
  // A line that would be dropped by the filter is still checked.
  assert.throws(() => parsePrometheusText("envoy_x{bad 1", keepSample), PrometheusTextError);
  assert.deepEqual(parsePrometheusText(""), []);
});

test("a histogram without a +Inf bucket takes its count from _count", () => {
  const page = 'istio_request_duration_milliseconds_bucket{reporter="source",le="10"} 2\nistio_request_duration_milliseconds_count{reporter="source"} 3\n';
  const snap = snapshotOf(parsePrometheusText(page, keepSample));
  const [h] = [...snap.histograms.values()];
  assert.equal(h.count, 3);
  assert.deepEqual([...h.buckets], [[10, 2], [Infinity, 3]]);
});
