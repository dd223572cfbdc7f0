import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { TYPE, type HcmTracing } from "../../../xds/envoy-types.ts";
import { otelTracing, zipkinTracing } from "./test-kit.ts";
import { ConfigInvalid } from "../../state/string-match.ts";
import { RequestLog } from "../../http/request-log.ts";
import type { CompiledCluster } from "../../state/types.ts";
import { compileTracing } from "./compile-tracing.ts";
import { startRequestSpan } from "./request-span.ts";
import { spanRecord } from "./span-record.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

const otel = compileTracing(otelTracing(), "t");
const zipkin = compileTracing(zipkinTracing(), "t");

test("compile: provider, sampling, tags; malformed config is refused with its field", () => {
  assert.equal(otel.provider.path, "/v1/traces");
  assert.equal(otel.provider.cluster, "outbound|4318||collector.example");
  assert.equal(otel.provider.timeoutMs, 2000);
  assert.equal(otel.provider.serviceName, "a.default");
  assert.deepEqual([otel.randomSampling, otel.clientSampling, otel.overallSampling, otel.maxPathTagLength], [100, 100, 100, 256], "Envoy's defaults");
  assert.equal(zipkin.provider.path, "/api/v2/spans");
  const tagged = compileTracing(otelTracing({ custom_tags: [
    { tag: "team", literal: { value: "books" } },
    { tag: "region", environment: { name: "REGION", default_value: "local" } },
    { tag: "zone", environment: { name: "ZONE" } },
    { tag: "user", request_header: { name: "End-User", default_value: "anon" } },
  ] }), "t", { REGION: "eu" });
  assert.deepEqual(tagged.fixedTags, [["team", "books"], ["region", "eu"]], "an unset variable without default gives no tag");
  assert.deepEqual(tagged.headerTags, [{ tag: "user", header: "end-user", defaultValue: "anon" }]);
  const refuse = (t: HcmTracing, field: RegExp) => assert.throws(() => compileTracing(t, "hcm.tracing"), (e: Error) => e instanceof ConfigInvalid && field.test(e.message));
  refuse(otelTracing({ random_sampling: { value: 150 } }), /random_sampling/);
  refuse({ random_sampling: { value: 10 } }, /provider/);
  refuse({ provider: { name: "envoy.tracers.datadog", typed_config: { "@type": "type.googleapis.com/envoy.config.trace.v3.DatadogConfig" } } }, /not supported/);
  refuse({ provider: { name: "envoy.tracers.zipkin", typed_config: { "@type": TYPE.zipkinTracer, collector_cluster: "", collector_endpoint: "/x" } } }, /collector_cluster/);
  refuse(otelTracing({ custom_tags: [{ tag: "x" }] }), /custom_tags\[0\]/);
  // OTLP over gRPC: exported through the cluster, with Istio's timeout and metadata.
  const grpcTracing = (grpc_service: unknown) => ({ provider: { name: "envoy.tracers.opentelemetry", typed_config: { "@type": TYPE.openTelemetryTracer, grpc_service } } });
  const grpc = compileTracing(grpcTracing({ envoy_grpc: { cluster_name: "c" }, timeout: { seconds: 2 }, initial_metadata: [{ key: "x-tenant", value: "a" }] }), "t");
  assert.deepEqual([grpc.provider.transport, grpc.provider.cluster, grpc.provider.timeoutMs, grpc.provider.headers, grpc.provider.unsupported], ["grpc", "c", 2000, { "x-tenant": "a" }, undefined]);
  refuse(grpcTracing({ envoy_grpc: { cluster_name: "" } }), /grpc_service\.envoy_grpc\.cluster_name/);
  refuse(grpcTracing({ google_grpc: { target_uri: "x:4317" } }), /only envoy_grpc/);
  refuse(grpcTracing({ envoy_grpc: { cluster_name: "c" }, initial_metadata: [{ key: "Bad Key", value: "v" }] }), /initial_metadata\[0\]\.key/);
  refuse({ provider: { name: "envoy.tracers.opentelemetry", typed_config: { "@type": TYPE.openTelemetryTracer } } }, /nowhere to go/);
});

test("a request without context starts a trace; the OpenTelemetry provider writes traceparent", () => {
  const h: IncomingHttpHeaders = {};
  const s = startRequestSpan(otel, h);
  assert.match(s.traceId, /^[0-9a-f]{32}$/);
  assert.equal(s.parentSpanId, undefined);
  assert.equal(s.sampled, true);
  assert.equal(h.traceparent, `00-${s.traceId}-${s.spanId}-01`);
  assert.equal(h["x-b3-traceid"], undefined, "B3 only when the provider or the request uses it");
});

test("W3C context is continued: same trace, the sender's span is the parent, tracestate kept, parent's 00 respected", () => {
  const h: IncomingHttpHeaders = { traceparent: `00-${TRACE}-${SPAN}-00`, tracestate: "vendor=x" };
  const s = startRequestSpan(otel, h);
  assert.deepEqual([s.traceId, s.parentSpanId, s.sampled], [TRACE, SPAN, false]);
  assert.notEqual(s.spanId, SPAN);
  assert.equal(h.traceparent, `00-${TRACE}-${s.spanId}-00`);
  assert.equal(h.tracestate, "vendor=x");
});

test("malformed context starts a new trace at the configured sampling, never fails the request", () => {
  const h: IncomingHttpHeaders = { traceparent: "00-nope", "x-b3-traceid": "zz", "x-b3-spanid": "zz" };
  const s = startRequestSpan(compileTracing(otelTracing({ random_sampling: { value: 0 } }), "t"), h);
  assert.equal(s.parentSpanId, undefined);
  assert.equal(s.sampled, false);
  assert.equal(h.traceparent, `00-${s.traceId}-${s.spanId}-00`, "the context still propagates, unsampled");
  assert.equal(h["x-b3-traceid"], s.traceId, "a B3 request gets valid B3 back");
});

test("Zipkin provider: B3 continued and written with the parent; W3C and b3 written too when the request had them", () => {
  const h: IncomingHttpHeaders = { "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "1", b3: `${TRACE}-${SPAN}-1`, traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-00` };
  const s = startRequestSpan(zipkin, h);
  assert.deepEqual([s.traceId, s.parentSpanId, s.sampled], [TRACE, SPAN, true], "B3 first for Zipkin");
  assert.deepEqual([h["x-b3-traceid"], h["x-b3-spanid"], h["x-b3-parentspanid"], h["x-b3-sampled"]], [TRACE, s.spanId, SPAN, "1"]);
  assert.equal(h.b3, `${TRACE}-${s.spanId}-1-${SPAN}`);
  assert.equal(h.traceparent, `00-${TRACE}-${s.spanId}-01`, "one consistent context in every format");
  // The OpenTelemetry provider continues a B3-only request and answers in both formats.
  const g: IncomingHttpHeaders = { "x-b3-traceid": "a3ce929d0e0e4736", "x-b3-spanid": SPAN, "x-b3-sampled": "0" };
  const o = startRequestSpan(otel, g);
  assert.deepEqual([o.traceId, o.parentSpanId, o.sampled], ["a3ce929d0e0e4736", SPAN, false]);
  assert.equal(g.traceparent, `00-0000000000000000a3ce929d0e0e4736-${o.spanId}-00`);
  assert.equal(g["x-b3-spanid"], o.spanId);
  // A decision alone (x-b3-sampled: 1 without ids) starts a trace with that decision.
  const d: IncomingHttpHeaders = { "x-b3-sampled": "1" };
  const ds = startRequestSpan(compileTracing(zipkinTracing({ random_sampling: { value: 0 } }), "t"), d);
  assert.equal(ds.sampled, true);
  assert.equal(ds.parentSpanId, undefined);
});

test("span record: Envoy's tags, custom tags, error on 5xx, Istio's operation name for a mesh service", () => {
  const t = compileTracing(otelTracing({ custom_tags: [{ tag: "istio.canonical_service", literal: { value: "a" } }, { tag: "user", request_header: { name: "end-user" } }] }), "t");
  const headers: IncomingHttpHeaders = { "end-user": "jason", "user-agent": "curl/8" };
  const s = startRequestSpan(t, headers);
  const log = new RequestLog();
  Object.assign(log, { method: "GET", path: "/chain?x=1", authority: "b:8080", status: 503, flags: "UF", requestId: "rid-1", userAgent: "curl/8", downstreamRemote: "127.0.0.5:40000", upstreamCluster: "outbound|8080||b.default.svc.cluster.local", upstreamHost: "127.151.1.2:8080", bytesReceived: 0, bytesSent: 19 });
  const cluster = { name: "outbound|8080||b.default.svc.cluster.local", istioService: { host: "b.default.svc.cluster.local", name: "b", namespace: "default" } } as CompiledCluster;
  const r = spanRecord(s, t, false, log, headers, cluster, { nodeId: "sidecar~127.151.1.1~a.default~default.svc.cluster.local" }, s.startMs + 5);
  assert.equal(r.kind, "CLIENT");
  assert.equal(r.name, "b.default.svc.cluster.local:8080/*");
  assert.equal(r.error, true);
  assert.deepEqual(r.attributes, {
    component: "proxy", node_id: "sidecar~127.151.1.1~a.default~default.svc.cluster.local", "guid:x-request-id": "rid-1", "http.url": "http://b:8080/chain?x=1",
    "http.method": "GET", "http.protocol": "HTTP/1.1", downstream_cluster: "-", user_agent: "curl/8", "peer.address": "127.0.0.5:40000", request_size: "0", response_size: "19",
    upstream_cluster: "outbound|8080||b.default.svc.cluster.local", "upstream_cluster.name": "outbound|8080||b.default.svc.cluster.local", upstream_address: "127.151.1.2:8080",
    "http.status_code": "503", response_flags: "UF", error: "true", "istio.canonical_service": "a", user: "jason",
  });
  const inbound = spanRecord(s, t, true, Object.assign(new RequestLog(), { status: 200, authority: "b:8080", path: "/chain?x=1" }), {}, undefined, { nodeId: "n" }, s.startMs);
  assert.deepEqual([inbound.kind, inbound.name, inbound.error, inbound.attributes.user], ["SERVER", "b:8080/chain", false, undefined]);
});
