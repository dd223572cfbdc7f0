// One request's span as the sidecar model has it (Envoy's): every sidecar hop makes its own
// span, SERVER on an inbound listener and CLIENT on the outbound one, a child of the context
// the request carries, and hands its own span id on as the parent of the next hop.
//
// At the start the context is read (the provider's format first: W3C for OpenTelemetry, B3
// for Zipkin, then the other), the sampling decided, and the request's headers rewritten in
// place so the upstream request carries this span: the provider's format always, and any
// other format the request came with, so an application forwarding only that still joins up.
import type { IncomingHttpHeaders } from "node:http";
import type { CompiledTracing } from "./compile-tracing.ts";
import { decideSampling, type SamplingReason } from "./sampling.ts";
import { newSpanId, newTraceId } from "./span-ids.ts";
import {
  formatB3Single, formatTraceparent, isDecisionOnly, parseB3Single, readB3Multi, readW3c, writeB3Multi, type TraceContext,
} from "./trace-context.ts";

export interface RequestSpan {
  traceId: string;
  spanId: string;
  /** The span the request came from; undefined for a new trace. */
  parentSpanId: string | undefined;
  sampled: boolean;
  reason: SamplingReason;
  traceState: string | undefined;
  /** Milliseconds since the epoch, sub-millisecond precision. */
  startMs: number;
}

type Read = TraceContext | { decisionOnly: boolean } | undefined;

function readB3(headers: IncomingHttpHeaders): Read {
  const multi = readB3Multi(headers);
  if (multi && !isDecisionOnly(multi)) return multi;
  return parseB3Single(typeof headers.b3 === "string" ? headers.b3 : undefined) ?? multi;
}

/** The incoming context in the provider's preferred order; a decision without ids counts only as a decision. */
function readContext(t: CompiledTracing, headers: IncomingHttpHeaders): Read {
  const hasW3c = headers.traceparent !== undefined;
  const hasB3 = headers.b3 !== undefined || headers["x-b3-traceid"] !== undefined || headers["x-b3-sampled"] !== undefined || headers["x-b3-flags"] !== undefined;
  if (!hasW3c && !hasB3) return undefined;
  const w3c = hasW3c ? readW3c(headers) : undefined;
  const b3 = hasB3 ? readB3(headers) : undefined;
  const [first, second] = t.kind === "zipkin" ? [b3, w3c] : [w3c, b3];
  if (first && !isDecisionOnly(first)) return first;
  if (second && !isDecisionOnly(second)) return second;
  return first ?? second;
}

/** Wall-clock milliseconds with the monotonic clock's resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Starts the span of one request and writes its context into `headers` (the ones forwarded upstream). */
export function startRequestSpan(t: CompiledTracing, headers: IncomingHttpHeaders, random?: () => number): RequestSpan {
  const read = readContext(t, headers);
  const parent = read && !isDecisionOnly(read) ? read : undefined;
  const parentDecision = parent ? (parent.debug ? true : parent.sampled) : read && isDecisionOnly(read) ? read.decisionOnly : undefined;
  const { sampled, reason } = decideSampling(parentDecision, headers, t, random);
  const span: RequestSpan = {
    traceId: parent?.traceId ?? newTraceId(t.kind === "zipkin" && !t.provider.traceId128),
    spanId: newSpanId(),
    parentSpanId: parent?.spanId,
    sampled,
    reason,
    traceState: parent?.traceState,
    startMs: nowMs(),
  };
  injectContext(t, span, headers, parent?.debug === true);
  return span;
}

function injectContext(t: CompiledTracing, s: RequestSpan, headers: IncomingHttpHeaders, debug: boolean): void {
  if (t.kind === "opentelemetry" || headers.traceparent !== undefined) {
    headers.traceparent = formatTraceparent(s.traceId, s.spanId, s.sampled);
    if (s.traceState) headers.tracestate = s.traceState;
    else delete headers.tracestate;
  }
  if (t.kind === "zipkin" || headers["x-b3-traceid"] !== undefined || headers["x-b3-sampled"] !== undefined) {
    writeB3Multi(headers, s.traceId, s.spanId, s.parentSpanId, s.sampled);
  }
  if (headers.b3 !== undefined) headers.b3 = formatB3Single(s.traceId, s.spanId, s.sampled, s.parentSpanId, debug);
}
