import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { proxy } from "../registry/fixtures.ts";
import { encodeResource } from "../xds/protos.ts";
import { TYPE, type HttpConnectionManager, type Listener } from "../xds/envoy-types.ts";
import { listenerView, listenerViewKey, translateListeners } from "./listeners.ts";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "./mesh-config.ts";
import { ISTIO_TEXT_FORMAT, telemetryLabelKeys, telemetryWarnings } from "./telemetry.ts";
import { compileFilterExpression } from "./telemetry-filter.ts";
import { inputFor } from "./test-support.ts";

function telemetry(namespace: string, name: string, spec: Record<string, unknown>): ConfigObject {
  return { kind: "Telemetry", apiVersion: "telemetry.istio.io/v1", metadata: { name, namespace }, spec, source: { file: `${name}.yaml`, line: 1 } };
}

const reviews = proxy("reviews-v1", "127.10.1.5", { app: "reviews", version: "v1" }, { ports: [{ name: "http", containerPort: 9080 }] });
const ratings = proxy("ratings-v1", "127.10.1.6", { app: "ratings", version: "v1" }, { ports: [{ name: "http", containerPort: 9080 }] });

function hcmOf(l: Listener): HttpConnectionManager {
  return l.filter_chains![0]!.filters[0]!.typed_config;
}

/** [outbound logs?, inbound logs?] for a proxy under these objects and mesh settings. */
function logging(objects: ConfigObject[], p = reviews, mesh: MeshConfig = { ...DEFAULT_MESH_CONFIG, accessLog: false }): [boolean, boolean] {
  const ls = translateListeners({ ...inputFor(objects, [p], p), mesh });
  const out = ls.find((l) => l.name === "http_proxy")!;
  const inb = ls.find((l) => l.name === "inbound|9080")!;
  return [hcmOf(out).access_log !== undefined, hcmOf(inb).access_log !== undefined];
}

const on = (extra: Record<string, unknown> = {}) => ({ accessLogging: [{ providers: [{ name: "envoy" }], ...extra }] });
const off = { accessLogging: [{ disabled: true }] };

test("meshConfig alone: --access-log decides for every sidecar, Istio's text format to stdout", () => {
  assert.deepEqual(logging([]), [false, false]);
  assert.deepEqual(logging([], reviews, DEFAULT_MESH_CONFIG), [true, true]);
  const ls = translateListeners(inputFor([], [reviews], reviews));
  const al = hcmOf(ls[0]!).access_log![0]!;
  assert.deepEqual(al.typed_config, { "@type": TYPE.fileAccessLog, path: "/dev/stdout", log_format: { text_format_source: { inline_string: ISTIO_TEXT_FORMAT } } });
});

test("precedence: root namespace turns on, the namespace turns off, a workload selector turns back on", () => {
  const root = telemetry("istio-system", "mesh-default", on());
  const ns = telemetry("default", "ns-off", off);
  const wl = telemetry("default", "reviews-on", { selector: { matchLabels: { app: "reviews" } }, ...on() });
  assert.deepEqual(logging([root]), [true, true]);
  assert.deepEqual(logging([root, ns]), [false, false]);
  assert.deepEqual(logging([root, ns, wl]), [true, true], "the selected workload logs again");
  assert.deepEqual(logging([root, ns, wl], ratings), [false, false], "other workloads in the namespace stay off");
  // The mesh flag is only the default: a namespace Telemetry disables it too.
  assert.deepEqual(logging([ns], reviews, DEFAULT_MESH_CONFIG), [false, false]);
  // A namespace Telemetry elsewhere and a selector in another namespace do not apply.
  const otherNs = telemetry("other", "x", on());
  const otherSel = telemetry("other", "y", { selector: { matchLabels: { app: "reviews" } }, ...on() });
  assert.deepEqual(logging([otherNs, otherSel]), [false, false]);
});

test("match.mode CLIENT affects only the outbound listener, SERVER only inbound ones", () => {
  assert.deepEqual(logging([telemetry("default", "t", on({ match: { mode: "CLIENT" } }))]), [true, false]);
  assert.deepEqual(logging([telemetry("default", "t", on({ match: { mode: "SERVER" } }))]), [false, true]);
  const clientOff = telemetry("default", "t", { accessLogging: [{ disabled: true, match: { mode: "CLIENT" } }] });
  assert.deepEqual(logging([clientOff], reviews, DEFAULT_MESH_CONFIG), [false, true]);
});

test("Telemetry with targetRefs does not apply to sidecars, and is reported", () => {
  const t = telemetry("default", "t", { targetRefs: [{ kind: "Service", name: "reviews" }], ...on() });
  assert.deepEqual(logging([t]), [false, false]);
  assert.match(telemetryWarnings({ objects: [t], mesh: DEFAULT_MESH_CONFIG })[0]!.message, /not to sidecars/);
});

test("a provider from meshConfig with JSON labels emits json_format; empty labels mean Istio's JSON keys", () => {
  const mesh: MeshConfig = { ...DEFAULT_MESH_CONFIG, accessLogProviders: [{ name: "json", path: "/dev/stdout", logFormat: { labels: {} } }, { name: "mine", path: "/dev/stdout", logFormat: { labels: { code: "%RESPONSE_CODE%" } } }] };
  const t = telemetry("istio-system", "t", { accessLogging: [{ providers: [{ name: "json" }, { name: "mine" }] }] });
  const ls = translateListeners({ ...inputFor([t], [reviews], reviews), mesh });
  const logs = hcmOf(ls[0]!).access_log!;
  assert.equal(logs.length, 2);
  const fields = (logs[0]!.typed_config as { log_format: { json_format: { fields: Record<string, { string_value: string }> } } }).log_format.json_format.fields;
  assert.equal(fields.response_code?.string_value, "%RESPONSE_CODE%");
  assert.equal(fields.upstream_cluster?.string_value, "%UPSTREAM_CLUSTER_RAW%");
  assert.deepEqual(Object.keys((logs[1]!.typed_config as { log_format: { json_format: { fields: object } } }).log_format.json_format.fields), ["code"]);
  // The whole listener, access logs included, passes Envoy's proto check.
  for (const l of ls) encodeResource(TYPE.listener, l);
  const unknown = telemetry("default", "u", { accessLogging: [{ providers: [{ name: "nope" }] }] });
  assert.match(telemetryWarnings({ objects: [unknown], mesh })[0]!.message, /provider "nope" is not defined/);
});

test("filter expressions become Envoy's typed filters; unsupported ones warn and log unfiltered", () => {
  assert.deepEqual(compileFilterExpression("response.code >= 500"), { status_code_filter: { comparison: { op: "GE", value: { default_value: 500, runtime_key: "mizzen.access_log.status_code" } } } });
  const f = compileFilterExpression('response.code >= 400 || response.flags != "-"');
  assert.equal(f.or_filter?.filters.length, 2);
  assert.deepEqual(f.or_filter?.filters[1], { response_flag_filter: {} });
  const g = compileFilterExpression("(request.method == 'GET' && response.code > 399) || response.code != 200");
  assert.equal(g.or_filter?.filters[0]?.and_filter?.filters[1]?.status_code_filter?.comparison.value.default_value, 400);
  assert.equal(g.or_filter?.filters[1]?.or_filter?.filters.length, 2, "!= is below or above");
  for (const bad of ["response.size > 10", "response.code >= 'x'", 'response.flags == "-"', "response.code >=", "", "x.y == 1 ||"]) {
    assert.throws(() => compileFilterExpression(bad), `${bad} should be refused`);
  }
  const t = telemetry("default", "t", on({ filter: { expression: "response.duration > 100" } }));
  assert.deepEqual(logging([t]), [true, true]);
  const ls = translateListeners({ ...inputFor([t], [reviews], reviews), mesh: DEFAULT_MESH_CONFIG });
  assert.equal(hcmOf(ls[0]!).access_log![0]!.filter, undefined, "unfiltered");
  const w = telemetryWarnings({ objects: [t], mesh: DEFAULT_MESH_CONFIG });
  assert.equal(w[0]!.field, "spec.accessLogging[0].filter.expression");
  assert.match(w[0]!.message, /unfiltered/);
  const good = telemetry("default", "t", on({ filter: { expression: "response.code >= 500" } }));
  const gl = translateListeners({ ...inputFor([good], [reviews], reviews), mesh: DEFAULT_MESH_CONFIG });
  assert.equal(hcmOf(gl[1]!).access_log![0]!.filter?.status_code_filter?.comparison.op, "GE");
  for (const l of gl) encodeResource(TYPE.listener, l);
});

test("listener view carries the labels Telemetry selectors name, so selected workloads get their own listeners", () => {
  const wl = telemetry("default", "reviews-on", { selector: { matchLabels: { app: "reviews" } }, ...on() });
  const keys = telemetryLabelKeys([wl]);
  assert.deepEqual([...keys], ["app"]);
  const a = listenerView(reviews, keys);
  const b = listenerView({ ...reviews, labels: { app: "reviews", version: "v2" } }, keys);
  assert.equal(listenerViewKey(a), listenerViewKey(b), "version is not named by any selector");
  assert.notEqual(listenerViewKey(a), listenerViewKey(listenerView({ ...reviews, labels: { app: "ratings" } }, keys)));
  assert.notEqual(listenerViewKey(a), listenerViewKey(listenerView({ ...reviews, namespace: "other" }, keys)));
  const input = inputFor([wl], [reviews], reviews);
  assert.deepEqual(translateListeners({ ...input, proxy: a }), translateListeners(input));
});
