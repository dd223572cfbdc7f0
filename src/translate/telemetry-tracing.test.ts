import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { parseConfigText } from "../api/parse.ts";
import { cfg, proxy } from "../registry/fixtures.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { TYPE, type HcmTracing, type HttpConnectionManager, type Listener } from "../xds/envoy-types.ts";
import { listenerView, listenerViewKey, translateListeners } from "./listeners.ts";
import { telemetryLabelKeys } from "./telemetry.ts";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "./mesh-config.ts";
import { inputFor } from "./test-support.ts";
import { ISTIO_DEFAULT_SAMPLING, tracingInUse, tracingWarnings } from "./telemetry-tracing.ts";
import { compileTracing } from "../proxy/telemetry/tracing/compile-tracing.ts";

function telemetry(namespace: string, name: string, spec: Record<string, unknown>): ConfigObject {
  return { kind: "Telemetry", apiVersion: "telemetry.istio.io/v1", metadata: { name, namespace }, spec, source: { file: `${name}.yaml`, line: 7 } };
}

const collector = cfg("ServiceEntry", "collector", {
  hosts: ["collector.observability.example"],
  location: "MESH_EXTERNAL",
  resolution: "STATIC",
  ports: [{ name: "http-otlp", number: 4318, protocol: "HTTP" }, { name: "http-zipkin", number: 9411, protocol: "HTTP" }, { name: "grpc-otlp", number: 4317, protocol: "GRPC" }],
  endpoints: [{ address: "127.0.0.9" }],
}, { namespace: "observability" });

const MESH: MeshConfig = {
  ...DEFAULT_MESH_CONFIG,
  accessLog: false,
  tracingProviders: [
    { kind: "opentelemetry", name: "otel", service: "collector.observability.example", port: 4318, http: { path: "/v1/traces", headers: [{ name: "x-tenant", value: "t1" }] }, source: { file: "meshconfig.yaml", line: 3 } },
    { kind: "zipkin", name: "zipkin", service: "observability/collector.observability.example", port: 9411, source: { file: "meshconfig.yaml", line: 9 } },
    { kind: "zipkin", name: "nowhere", service: "nowhere.example", port: 9411, source: { file: "meshconfig.yaml", line: 14 } },
    { kind: "opentelemetry", name: "otel-grpc", service: "collector.observability.example", port: 4317, grpc: { timeout: { seconds: 2 }, initialMetadata: [{ name: "x-tenant", value: "t2" }] }, source: { file: "meshconfig.yaml", line: 17 } },
  ],
};

const reviews = proxy("reviews-v1", "127.10.1.5", { app: "reviews", version: "v1" }, { ports: [{ name: "http", containerPort: 9080 }] });

function hcmOf(l: Listener): HttpConnectionManager {
  return l.filter_chains![0]!.filters[0]!.typed_config;
}

/** [outbound tracing, inbound tracing] of the reviews sidecar; every listener is also encoded with Envoy's protos. */
function tracing(objects: ConfigObject[], mesh: MeshConfig = MESH, p = reviews): [HcmTracing | undefined, HcmTracing | undefined] {
  const ls = translateListeners({ ...inputFor([collector, ...objects], [p], p), mesh });
  for (const l of ls) encodeResource(TYPE.listener, l);
  return [hcmOf(ls.find((l) => l.name === "http_proxy")!).tracing, hcmOf(ls.find((l) => l.name === "inbound|9080")!).tracing];
}

test("no Telemetry tracing and no default provider: no tracing anywhere (enableTracing alone has no tracer in Mizzen)", () => {
  assert.deepEqual(tracing([]), [undefined, undefined]);
  assert.deepEqual(tracing([], { ...MESH, enableTracing: true }), [undefined, undefined]);
});

test("defaultProviders.tracing: OTLP/HTTP on both directions, Istio's 1 % default, service name and istio.* tags", () => {
  const [out, inb] = tracing([], { ...MESH, defaultTracingProviders: ["otel"] });
  assert.ok(out && inb);
  assert.deepEqual(out.random_sampling, { value: ISTIO_DEFAULT_SAMPLING });
  assert.deepEqual(out.client_sampling, { value: 100 });
  assert.deepEqual(out.overall_sampling, { value: 100 });
  assert.deepEqual(out.provider, {
    name: "envoy.tracers.opentelemetry",
    typed_config: {
      "@type": TYPE.openTelemetryTracer,
      service_name: "reviews.default",
      http_service: {
        http_uri: { uri: "collector.observability.example/v1/traces", cluster: "outbound|4318||collector.observability.example", timeout: { seconds: 5 } },
        request_headers_to_add: [{ header: { key: "x-tenant", value: "t1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      },
    },
  });
  assert.deepEqual(out.custom_tags?.map((t) => [t.tag, t.literal?.value]), [
    ["istio.canonical_revision", "v1"], ["istio.canonical_service", "reviews"], ["istio.cluster_id", "Kubernetes"], ["istio.mesh_id", "cluster.local"], ["istio.namespace", "default"],
  ]);
  assert.deepEqual(inb, out, "the same spec for SERVER");
  // defaultConfig.tracing.sampling is the fallback percentage; out of range means Istio's 1 %.
  assert.deepEqual(tracing([], { ...MESH, defaultTracingProviders: ["otel"], tracingSampling: 25 })[0]!.random_sampling, { value: 25 });
  assert.deepEqual(tracing([], { ...MESH, defaultTracingProviders: ["otel"], tracingSampling: 300 })[0]!.random_sampling, { value: 1 });
});

test("Telemetry levels: root picks zipkin at 100 %, the namespace turns SERVER off, a workload selector samples 50 %", () => {
  const root = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "zipkin" }], randomSamplingPercentage: 100 }] });
  const ns = telemetry("default", "ns", { tracing: [{ match: { mode: "SERVER" }, disableSpanReporting: true }] });
  const wl = telemetry("default", "reviews", { selector: { matchLabels: { app: "reviews" } }, tracing: [{ randomSamplingPercentage: 50, customTags: {
    team: { literal: { value: "books" } }, region: { environment: { name: "REGION", defaultValue: "local" } }, user: { header: { name: "end-user" } },
  } }] });
  const [out, inb] = tracing([root]);
  assert.deepEqual(out!.provider, {
    name: "envoy.tracers.zipkin",
    typed_config: {
      "@type": TYPE.zipkinTracer, collector_cluster: "outbound|9411||collector.observability.example", collector_endpoint: "/api/v2/spans",
      collector_endpoint_version: "HTTP_JSON", trace_id_128bit: true, shared_span_context: { value: false }, collector_hostname: "collector.observability.example",
    },
  });
  assert.deepEqual(out!.random_sampling, { value: 100 });
  assert.ok(inb);
  const [out2, inb2] = tracing([root, ns]);
  assert.ok(out2, "CLIENT keeps tracing");
  assert.equal(inb2, undefined, "SERVER span reporting disabled");
  const [out3] = tracing([root, ns, wl]);
  assert.deepEqual(out3!.random_sampling, { value: 50 });
  const tags = Object.fromEntries(out3!.custom_tags!.map((t) => [t.tag, t]));
  assert.deepEqual(tags.team, { tag: "team", literal: { value: "books" } });
  assert.deepEqual(tags.region, { tag: "region", environment: { name: "REGION", default_value: "local" } });
  assert.deepEqual(tags.user, { tag: "user", request_header: { name: "end-user" } });
  assert.deepEqual(out3!.custom_tags!.map((t) => t.tag), [...out3!.custom_tags!.map((t) => t.tag)].sort(), "sorted by tag name");
  // Another workload in the namespace keeps the namespace's settings (no 50 %).
  const ratings = proxy("ratings-v1", "127.10.1.6", { app: "ratings" }, { ports: [{ name: "http", containerPort: 9080 }] });
  assert.deepEqual(tracing([root, ns, wl], MESH, ratings)[0]!.random_sampling, { value: 100 });
  // enableIstioTags: false leaves only the user's tags.
  const noIstio = telemetry("default", "ns", { tracing: [{ enableIstioTags: false, customTags: { team: { literal: { value: "x" } } } }] });
  assert.deepEqual(tracing([root, noIstio])[0]!.custom_tags!.map((t) => t.tag), ["team"]);
});

test("match.mode CLIENT switches the provider for the outbound side only", () => {
  const root = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "otel" }], randomSamplingPercentage: 10 }, { match: { mode: "CLIENT" }, providers: [{ name: "zipkin" }] }] });
  const [out, inb] = tracing([root]);
  assert.equal(out!.provider!.name, "envoy.tracers.zipkin");
  assert.equal(inb!.provider!.name, "envoy.tracers.opentelemetry");
  assert.deepEqual(out!.random_sampling, { value: 10 }, "sampling from the entry that applied to both");
});

test("unknown providers and collectors outside the registry: no tracing, and a warning with file and line", () => {
  const unknown = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "jaeger" }] }] });
  assert.deepEqual(tracing([unknown], { ...MESH, defaultTracingProviders: ["otel"] }), [undefined, undefined], "a Telemetry naming an unknown provider turns tracing off, as Istio's lookup does");
  const noCollector = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "nowhere" }] }] });
  assert.deepEqual(tracing([noCollector]), [undefined, undefined]);
  const badTag = telemetry("default", "tags", { tracing: [{ customTags: { broken: { metadata: {} } } }] });
  const w = tracingWarnings({ objects: [collector, unknown, badTag], mesh: MESH, registry: inputFor([collector], [], reviews).registry });
  const byField = new Map(w.map((x) => [x.field, x]));
  const a = byField.get("spec.tracing[0].providers[0].name")!;
  assert.equal(a.file, "mesh-default.yaml");
  assert.equal(a.line, 7);
  assert.match(a.message, /tracing provider "jaeger" is not defined/);
  assert.match(byField.get("spec.tracing[0].customTags.broken")!.message, /literal\.value, environment\.name or header\.name/);
  const c = byField.get("extensionProviders[nowhere].zipkin.service")!;
  assert.deepEqual([c.file, c.line, c.severity], ["meshconfig.yaml", 14, "warning"]);
  assert.match(c.message, /"nowhere.example" is not in the registry/);
  assert.equal(w.length, 3, JSON.stringify(w));
  // A provider on a port the service does not have is named too.
  const wrongPort: MeshConfig = { ...MESH, tracingProviders: [{ kind: "zipkin", name: "z", service: "collector.observability.example", port: 1234 }] };
  assert.match(tracingWarnings({ objects: [], mesh: wrongPort, registry: inputFor([collector], [], reviews).registry })[0]!.message, /has no port 1234 \(its ports: 4317, 4318, 9411\)/);
});

test("randomSamplingPercentage outside 0..100 is rejected when the Telemetry is read, with its line", () => {
  const text = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t, namespace: default }
spec:
  tracing:
  - providers: [ { name: otel } ]
    randomSamplingPercentage: 150
`;
  const { objects, errors } = parseConfigText(text, "t.yaml");
  assert.equal(objects.length, 0);
  assert.equal(errors[0]!.severity, "error");
  assert.equal(errors[0]!.line, 7);
  assert.match(errors[0]!.field, /randomSamplingPercentage/);
});

test("the tracing config goes through Envoy's protos and decodes back as the proxy sees it", () => {
  const root = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "zipkin" }], randomSamplingPercentage: 12.5, customTags: { user: { header: { name: "end-user", defaultValue: "anon" } } } }] });
  const ls = translateListeners({ ...inputFor([collector, root], [reviews], reviews), mesh: MESH });
  const inbound = ls.find((l) => l.name === "inbound|9080")!;
  const back = decodeResource(encodeResource(TYPE.listener, inbound)) as Listener;
  const t = hcmOf(back).tracing!;
  assert.deepEqual(t.random_sampling, { value: 12.5 });
  assert.equal(t.provider!.name, "envoy.tracers.zipkin");
  const z = t.provider!.typed_config as Record<string, unknown>;
  assert.equal(z["@type"], TYPE.zipkinTracer);
  assert.equal(z.collector_endpoint_version, "HTTP_JSON");
  assert.equal(z.collector_cluster, "outbound|9411||collector.observability.example");
  assert.deepEqual(t.custom_tags!.find((c) => c.tag === "user"), { tag: "user", request_header: { name: "end-user", default_value: "anon" } });
  // A wrong field inside the tracer config is refused by the strict encoder, naming it.
  const broken = structuredClone(inbound);
  (hcmOf(broken).tracing!.provider!.typed_config as Record<string, unknown>).collector_port = 9411;
  assert.throws(() => encodeResource(TYPE.listener, broken), /collector_port/);
});

test("listener views carry the canonical service only while some config traces; shared translation equals the direct one", () => {
  const root = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "otel" }] }] });
  assert.equal(tracingInUse([], MESH), false);
  assert.equal(tracingInUse([root], MESH), true);
  assert.equal(tracingInUse([], { ...MESH, defaultTracingProviders: ["otel"] }), true);
  const keys = telemetryLabelKeys([root]);
  const plain = listenerView(reviews, keys);
  assert.equal(plain.type === "sidecar" && plain.canonical, undefined, "no tracing: version labels do not split views");
  const v = listenerView(reviews, keys, true);
  assert.deepEqual(v.type === "sidecar" && v.canonical, { service: "reviews", revision: "v1" });
  assert.notEqual(listenerViewKey(v), listenerViewKey(listenerView({ ...reviews, labels: { app: "reviews", version: "v2" } }, keys, true)));
  const input = { ...inputFor([collector, root], [reviews], reviews), mesh: MESH };
  assert.deepEqual(translateListeners({ ...input, proxy: v }), translateListeners(input));
});

test("OTLP over gRPC (an opentelemetry provider without http): grpc_service to the collector's cluster, through Envoy's protos to the proxy", () => {
  const root = telemetry("istio-system", "mesh-default", { tracing: [{ providers: [{ name: "otel-grpc" }], randomSamplingPercentage: 100 }] });
  const [out] = tracing([root]);
  assert.deepEqual(out!.provider, {
    name: "envoy.tracers.opentelemetry",
    typed_config: {
      "@type": TYPE.openTelemetryTracer,
      service_name: "reviews.default",
      grpc_service: {
        envoy_grpc: { cluster_name: "outbound|4317||collector.observability.example", authority: "collector.observability.example" },
        timeout: { seconds: 2 },
        initial_metadata: [{ key: "x-tenant", value: "t2" }],
      },
    },
  });
  const ls = translateListeners({ ...inputFor([collector, root], [reviews], reviews), mesh: MESH });
  const back = decodeResource(encodeResource(TYPE.listener, ls.find((l) => l.name === "http_proxy")!)) as Listener;
  const compiled = compileTracing(hcmOf(back).tracing!, "tracing");
  assert.deepEqual([compiled.provider.transport, compiled.provider.cluster, compiled.provider.timeoutMs, compiled.provider.headers], ["grpc", "outbound|4317||collector.observability.example", 2000, { "x-tenant": "t2" }]);
});
