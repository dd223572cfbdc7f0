import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram, escapeLabelValue, formatValue, metricName, renderLabels, writeCounter, writeHistogram } from "./prometheus-text.ts";

/** Minimal exposition-format check: every line is a comment or `name{labels} value`. */
function assertValidExposition(text: string): void {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.e+-]+)$/;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    assert.match(line, sample, `line is a valid sample: ${line}`);
  }
}

test("label values escape backslash, double quote and newline", () => {
  assert.equal(escapeLabelValue("plain"), "plain");
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(renderLabels([["a", "x"], ["b", 'say "hi"']]), 'a="x",b="say \\"hi\\""');
});

test("a counter family has HELP, TYPE and one line per series", () => {
  const text = writeCounter("istio_requests_total", "Requests.\nSecond line \\ here", [
    { labels: 'reporter="source",response_code="200"', value: 3 },
    { labels: 'reporter="destination",weird="a\\"b"', value: 1 },
    { labels: "", value: 7 },
  ]);
  assert.equal(text, [
    "# HELP istio_requests_total Requests.\\nSecond line \\\\ here",
    "# TYPE istio_requests_total counter",
    'istio_requests_total{reporter="source",response_code="200"} 3',
    'istio_requests_total{reporter="destination",weird="a\\"b"} 1',
    "istio_requests_total 7",
    "",
  ].join("\n"));
  assertValidExposition(text);
});

test("histogram buckets are cumulative, end at +Inf and agree with _count and _sum", () => {
  const h = new Histogram([1, 5, 10]);
  for (const v of [0.5, 1, 3, 7, 10, 11, 100]) h.observe(v);
  const text = writeHistogram("d_ms", "Durations.", [{ labels: 'a="x"', histogram: h }]);
  assert.equal(text, [
    "# HELP d_ms Durations.",
    "# TYPE d_ms histogram",
    'd_ms_bucket{a="x",le="1"} 2',
    'd_ms_bucket{a="x",le="5"} 3',
    'd_ms_bucket{a="x",le="10"} 5',
    'd_ms_bucket{a="x",le="+Inf"} 7',
    'd_ms_sum{a="x"} 132.5',
    'd_ms_count{a="x"} 7',
    "",
  ].join("\n"));
  assertValidExposition(text);
});

test("a histogram without labels and large bounds stays valid", () => {
  const h = new Histogram([0.5, 3600000]);
  h.observe(4000000);
  const text = writeHistogram("x", "X.", [{ labels: "", histogram: h }]);
  assert.match(text, /^x_bucket\{le="0.5"\} 0$/m);
  assert.match(text, /^x_bucket\{le="3600000"\} 0$/m);
  assert.match(text, /^x_bucket\{le="\+Inf"\} 1$/m);
  assert.match(text, /^x_count 1$/m);
  assertValidExposition(text);
});

test("numbers and names come out in Prometheus' spelling", () => {
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(0.25), "0.25");
  assert.equal(metricName("response_flag.UH"), "response_flag_UH");
  assert.equal(metricName("cluster.outbound|80||a.b"), "cluster_outbound_80__a_b");
  assert.equal(metricName("9lives"), "_9lives");
});
