// Tracing configs for the tracing tests, in the object form the control plane sends.
import { TYPE, type HcmTracing } from "../../../xds/envoy-types.ts";

/** OTLP/HTTP to `cluster` at /v1/traces, 100 % sampled unless `extra` says otherwise. */
export function otelTracing(extra: Partial<HcmTracing> = {}, cluster = "outbound|4318||collector.example"): HcmTracing {
  return {
    random_sampling: { value: 100 },
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: { "@type": TYPE.openTelemetryTracer, service_name: "a.default", http_service: { http_uri: { uri: "collector.example/v1/traces", cluster, timeout: { seconds: 2 } } } },
    },
    ...extra,
  };
}

/** Zipkin JSON v2 to `cluster` at /api/v2/spans, 128-bit trace ids, 100 % sampled unless `extra` says otherwise. */
export function zipkinTracing(extra: Partial<HcmTracing> = {}, cluster = "outbound|9411||zipkin.example"): HcmTracing {
  return {
    random_sampling: { value: 100 },
    provider: {
      name: "envoy.tracers.zipkin",
      typed_config: { "@type": TYPE.zipkinTracer, collector_cluster: cluster, collector_endpoint: "/api/v2/spans", collector_endpoint_version: "HTTP_JSON", trace_id_128bit: true },
    },
    ...extra,
  };
}
