// Our span records in the shape OpenTelemetry's exporters take (ReadableSpan), so the
// maintained OTLP and Zipkin encoders do the wire format while the proxy keeps its own ids.
// Loaded only with an exporter (exporters.ts imports it dynamically): it pulls in
// @opentelemetry/core and @opentelemetry/resources.
import { TraceState } from "@opentelemetry/core";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { HrTime } from "@opentelemetry/api";
import type { SpanRecord } from "./span-record.ts";

// @opentelemetry/api's enum values, written out so the API package is not loaded for them.
const SPAN_KIND = { SERVER: 1, CLIENT: 2 } as const;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;
const SAMPLED = 1;

const SCOPE = { name: "mizzen-proxy" };

export function serviceResource(serviceName: string): Resource {
  return resourceFromAttributes({ "service.name": serviceName });
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** OTLP needs 16-byte trace ids: a 64-bit B3 id is left-padded with zeros, as W3C does. */
function traceId32(id: string): string {
  return id.length === 32 ? id : id.padStart(32, "0");
}

export function toReadableSpan(r: SpanRecord, resource: Resource, widenTraceId: boolean): ReadableSpan {
  const traceId = widenTraceId ? traceId32(r.traceId) : r.traceId;
  const traceState = r.traceState ? new TraceState(r.traceState) : undefined;
  const ctx = { traceId, spanId: r.spanId, traceFlags: SAMPLED, isRemote: false, ...(traceState ? { traceState } : {}) };
  return {
    name: r.name,
    kind: SPAN_KIND[r.kind],
    spanContext: () => ctx,
    ...(r.parentSpanId ? { parentSpanContext: { traceId, spanId: r.parentSpanId, traceFlags: SAMPLED, isRemote: true } } : {}),
    startTime: hrTime(r.startMs),
    endTime: hrTime(r.endMs),
    duration: hrTime(r.endMs - r.startMs),
    ended: true,
    // No message: Zipkin's encoder would put it in the "error" tag, which Envoy sets to "true".
    status: { code: r.error ? STATUS_ERROR : STATUS_UNSET },
    attributes: r.attributes,
    links: [],
    events: [],
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
