// Telemetry metrics -> istio.stats on a sidecar's connection managers and tcp_proxy chains:
// Istio's merge across levels and directions, provider scope, what is left out, and that the
// filters survive the wire (Envoy's protos) and the proxy's own compiler.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { cfg, proxy } from "../registry/fixtures.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { TYPE, type HttpConnectionManager, type Listener, type Struct } from "../xds/envoy-types.ts";
import { fromStruct } from "../xds/struct.ts";
import { compileListener } from "../proxy/state/compile-listener.ts";
import { parseConfigText } from "../api/parse.ts";
import { translateListeners } from "./listeners.ts";
import { inputFor } from "./test-support.ts";
import { STATS_CONFIG_TYPE, STATS_FILTER_NAME, TYPED_STRUCT_TYPE } from "./telemetry-metrics.ts";

function telemetry(namespace: string, name: string, spec: Record<string, unknown>): ConfigObject {
  return { kind: "Telemetry", apiVersion: "telemetry.istio.io/v1", metadata: { name, namespace }, spec, source: { file: `${name}.yaml`, line: 1 } };
}

const reviews = proxy("reviews-v1", "127.10.1.5", { app: "reviews", version: "v1" }, { ports: [{ name: "http", containerPort: 9080 }, { name: "tcp-db", containerPort: 5432 }] });
const ratings = proxy("ratings-v1", "127.10.1.6", { app: "ratings", version: "v1" }, { ports: [{ name: "http", containerPort: 9080 }] });
const DB = cfg("Service", "db", { selector: { app: "db" }, ports: [{ name: "tcp-db", port: 5432 }] });

function listeners(objects: ConfigObject[], p = reviews): Listener[] {
  return translateListeners(inputFor([DB, ...objects], [p], p));
}

const hcmOf = (l: Listener): HttpConnectionManager => l.filter_chains![0]!.filters[0]!.typed_config;

/** The PluginConfig of the HCM's istio.stats filter (undefined: no filter); also checks its place and shape. */
function httpStats(l: Listener): Record<string, unknown> | undefined {
  const filters = hcmOf(l).http_filters;
  const i = filters.findIndex((f) => f.name === STATS_FILTER_NAME);
  if (i < 0) return undefined;
  assert.equal(i, filters.length - 2, "istio.stats runs right before the router");
  const tc = filters[i]!.typed_config;
  assert.equal(tc["@type"], TYPED_STRUCT_TYPE);
  assert.equal(tc.type_url, STATS_CONFIG_TYPE);
  return fromStruct(tc.value as Struct);
}

/** [outbound, inbound] PluginConfigs of a proxy. */
function both(objects: ConfigObject[], p = reviews): [Record<string, unknown> | undefined, Record<string, unknown> | undefined] {
  const ls = listeners(objects, p);
  return [httpStats(ls.find((l) => l.name === "http_proxy")!), httpStats(ls.find((l) => l.name === "inbound|9080")!)];
}

const DROP_ALL = { metrics: [{ drop: true }] };

test("no Telemetry with metrics: no istio.stats filter anywhere (the proxy keeps Istio's defaults)", () => {
  assert.deepEqual(both([]), [undefined, undefined]);
  assert.deepEqual(both([telemetry("istio-system", "logs", { accessLogging: [{ providers: [{ name: "envoy" }] }] })]), [undefined, undefined]);
  const tcpChains = listeners([]).flatMap((l) => l.filter_chains ?? []).filter((c) => c.filters.some((f) => f.name === "envoy.filters.network.tcp_proxy"));
  assert.ok(tcpChains.length >= 2, "outbound and inbound tcp_proxy chains exist");
  for (const c of tcpChains) assert.deepEqual(c.filters.map((f) => f.name), ["envoy.filters.network.tcp_proxy"]);
});

test("precedence: the root disables all, a namespace brings one metric back for clients, a workload tunes tags", () => {
  const root = telemetry("istio-system", "mesh", { metrics: [{ providers: [{ name: "prometheus" }], overrides: [{ disabled: true }] }] });
  assert.deepEqual(both([root]), [DROP_ALL, DROP_ALL]);
  const ns = telemetry("default", "ns", { metrics: [{ overrides: [{ match: { metric: "REQUEST_COUNT", mode: "CLIENT" }, disabled: false }] }] });
  assert.deepEqual(both([root, ns]), [{}, DROP_ALL], "naming a metric turns the client side back on; the server stays off");
  const wl = telemetry("default", "reviews", {
    selector: { matchLabels: { app: "reviews" } },
    metrics: [{ overrides: [
      { match: { metric: "REQUEST_COUNT" }, tagOverrides: { request_host: { value: "request.host" }, source_principal: { operation: "REMOVE" } } },
      { match: { metric: "REQUEST_COUNT" }, tagOverrides: { tenant: { value: "request.headers['x-tenant']" } } },
      { match: { metric: "REQUEST_DURATION", mode: "SERVER" }, disabled: true },
    ] }],
  });
  const [out, inb] = both([root, ns, wl]);
  assert.deepEqual(out, { metrics: [{ name: "requests_total", tags_to_remove: ["source_principal"], dimensions: { request_host: "request.host", tenant: "request.headers['x-tenant']" } }] }, "tagOverrides merge by tag");
  assert.deepEqual(inb, { metrics: [
    { name: "requests_total", tags_to_remove: ["source_principal"], dimensions: { request_host: "request.host", tenant: "request.headers['x-tenant']" } },
    { name: "request_duration_milliseconds", drop: true },
  ] }, "in the order of Istio's metric names, as pilot sorts them");
  assert.deepEqual(both([root, ns, wl], ratings), [{}, DROP_ALL], "other workloads only get the namespace's config");
});

test("ALL_METRICS overrides flatten to every metric; values the proxy cannot evaluate and bad tag names are left out", () => {
  const t = telemetry("default", "t", { metrics: [{ overrides: [{ match: { metric: "ALL_METRICS", mode: "SERVER" }, tagOverrides: {
    mesh: { value: "'blue'" },
    peer_app: { value: "upstream_peer.labels['app'].value" },
    "bad-name": { value: "'x'" },
    response_flags: { operation: "REMOVE" },
  } }] }] });
  const [out, inb] = both([t]);
  assert.deepEqual(out, {}, "the client side is configured but untouched");
  const metrics = (inb!.metrics as Record<string, unknown>[]);
  assert.deepEqual(metrics.map((m) => m.name), ["request_messages_total", "response_messages_total", "requests_total", "request_duration_milliseconds", "request_bytes", "response_bytes", "tcp_connections_closed_total", "tcp_connections_opened_total", "tcp_received_bytes_total", "tcp_sent_bytes_total"]);
  for (const m of metrics) assert.deepEqual({ ...m, name: undefined }, { name: undefined, tags_to_remove: ["response_flags"], dimensions: { mesh: "'blue'" } });
});

test("providers: only prometheus is in scope; naming another provider turns this workload's metrics off", () => {
  const t = telemetry("default", "sd", { selector: { matchLabels: { app: "reviews" } }, metrics: [{ providers: [{ name: "stackdriver" }] }] });
  assert.deepEqual(both([t]), [DROP_ALL, DROP_ALL]);
  const back = telemetry("default", "prom", { metrics: [{ providers: [{ name: "prometheus" }], overrides: [{ match: { metric: "REQUEST_SIZE" }, disabled: true }] }] });
  assert.deepEqual(both([back]), [{ metrics: [{ name: "request_bytes", drop: true }] }, { metrics: [{ name: "request_bytes", drop: true }] }]);
});

test("TCP chains get istio.stats as a network filter before the tcp_proxy, per direction; the proxy compiles them all", () => {
  const t = telemetry("default", "t", { metrics: [{ overrides: [{ match: { metric: "TCP_SENT_BYTES", mode: "CLIENT" }, tagOverrides: { destination_version: { operation: "REMOVE" } } }, { match: { mode: "SERVER" }, disabled: true }] }] });
  const ls = listeners([t]);
  const outTcp = ls.find((l) => l.name === "0.0.0.0_5432")!.filter_chains![0]!;
  assert.deepEqual(outTcp.filters.map((f) => f.name), [STATS_FILTER_NAME, "envoy.filters.network.tcp_proxy"]);
  const inTcp = ls.find((l) => l.name === "inbound|5432")!.filter_chains![0]!;
  assert.deepEqual(inTcp.filters.map((f) => f.name), [STATS_FILTER_NAME, "envoy.filters.network.tcp_proxy"]);
  assert.deepEqual(fromStruct((inTcp.filters[0]!.typed_config as unknown as { value: Struct }).value), DROP_ALL);
  // Through Envoy's protos and the proxy's compiler, as a sidecar receives them.
  const compiled = new Map(ls.map((l) => [l.name, compileListener(decodeResource(encodeResource(TYPE.listener, l)) as Listener)!]));
  const outChain = compiled.get("0.0.0.0_5432")!.filterChains[0]!;
  assert.deepEqual(outChain.tcpProxy!.stats!.tcp[0]!.rules.map((r) => [r.tag, r.remove]), [["destination_version", true]]);
  assert.equal(outChain.tcpProxy!.stats!.tcpOff, false);
  assert.equal(compiled.get("inbound|5432")!.filterChains[0]!.tcpProxy!.stats!.tcpOff, true);
  assert.equal(compiled.get("inbound|9080")!.filterChains[0]!.hcm!.filters.stats!.httpOff, true);
  assert.equal(compiled.get("http_proxy")!.filterChains[0]!.hcm!.filters.stats!.httpOff, false);
});

test("validation warns, with file and line, about what Mizzen leaves out, and keeps the object", () => {
  const yaml = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t, namespace: default }
spec:
  metrics:
  - providers: [{ name: stackdriver }]
    overrides:
    - match: { customMetric: my_metric }
      disabled: true
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        version: { value: canary }
        peer: { value: "upstream_peer.labels['app'].value" }
        tenant: { value: "request.headers['x-tenant']" }
`;
  const r = parseConfigText(yaml, "telemetry.yaml");
  assert.equal(r.objects.length, 1, "warnings keep the object");
  const w = r.errors.map((e) => `${e.line} ${e.field}: ${e.message}`);
  assert.equal(r.errors.every((e) => e.severity === "warning" && e.file === "telemetry.yaml"), true, JSON.stringify(r.errors));
  assert.equal(w.length, 4, w.join("\n"));
  assert.match(w[0]!, /^6 spec\.metrics\[0\]\.providers\[0\]\.name: metrics provider "stackdriver"/);
  assert.match(w[1]!, /^8 spec\.metrics\[0\]\.overrides\[0\]\.match\.customMetric: custom metric "my_metric"/);
  assert.match(w[2]!, /^12 .*tagOverrides\.version\.value: .*"canary".*\(a literal is quoted: "'canary'"\)/);
  assert.match(w[3]!, /^13 .*tagOverrides\.peer\.value: the Mizzen proxy cannot evaluate/);
});
