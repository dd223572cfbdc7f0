// Trace context on the wire: W3C Trace Context (traceparent, tracestate) and Zipkin's B3, both
// as several headers (x-b3-traceid, x-b3-spanid, x-b3-parentspanid, x-b3-sampled, x-b3-flags)
// and as the single `b3` header. Parsers return undefined for anything malformed (the proxy
// then starts a new trace); they never throw. Ids are lower-case hex strings: trace ids 32
// characters (B3 may carry 16), span ids 16.
import type { IncomingHttpHeaders } from "node:http";

export interface TraceContext {
  traceId: string;
  /** The sender's span: the parent of the span this proxy starts. */
  spanId: string;
  /** The sender's sampling decision; undefined when it made none (B3 without a sampled flag). */
  sampled: boolean | undefined;
  /** B3 debug (x-b3-flags: 1, or "d" in b3): always sampled. */
  debug?: boolean;
  /** W3C tracestate, passed on unchanged. */
  traceState?: string;
}

const HEX = /^[0-9a-f]+$/;
const ZERO = /^0+$/;

function hexId(v: string, lengths: readonly number[]): boolean {
  return lengths.includes(v.length) && HEX.test(v) && !ZERO.test(v);
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * traceparent: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>". Version ff and all-zero
 * ids are invalid; a higher version is read by its first four fields (the spec's rule), so a
 * longer value must continue with "-".
 */
export function parseTraceparent(value: string | undefined): Omit<TraceContext, "traceState"> | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v.length < 55 || v.length > 512) return undefined;
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === "ff") return undefined;
  if (version === "00" ? v.length !== 55 : v.length > 55 && v[55] !== "-") return undefined;
  if (v[2] !== "-" || v[35] !== "-" || v[52] !== "-") return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!hexId(traceId, [32]) || !hexId(spanId, [16]) || !HEX.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId.padStart(32, "0")}-${spanId}-${sampled ? "01" : "00"}`;
}

/** W3C context from the request, with its tracestate (kept only next to a valid traceparent). */
export function readW3c(headers: IncomingHttpHeaders): TraceContext | undefined {
  const parent = parseTraceparent(one(headers.traceparent));
  if (!parent) return undefined;
  const state = headers.tracestate;
  const traceState = Array.isArray(state) ? state.join(",") : state;
  return traceState ? { ...parent, traceState } : parent;
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  return undefined;
}

/**
 * B3 multi-header context. Ids must both be valid (trace id 16 or 32 hex, span id 16 hex);
 * a sampling decision alone (x-b3-sampled without ids) is returned as `decisionOnly`.
 */
export function readB3Multi(headers: IncomingHttpHeaders): TraceContext | { decisionOnly: boolean } | undefined {
  const traceId = one(headers["x-b3-traceid"])?.trim().toLowerCase();
  const spanId = one(headers["x-b3-spanid"])?.trim().toLowerCase();
  const debug = one(headers["x-b3-flags"])?.trim() === "1";
  const sampled = debug ? true : b3Sampled(one(headers["x-b3-sampled"])?.trim().toLowerCase());
  if (traceId === undefined && spanId === undefined) return sampled === undefined ? undefined : { decisionOnly: sampled };
  if (!traceId || !spanId || !hexId(traceId, [16, 32]) || !hexId(spanId, [16])) return undefined;
  return { traceId, spanId, sampled, ...(debug ? { debug } : {}) };
}

/** b3: "<trace id>-<span id>[-<1|0|d>[-<parent span id>]]", or a decision alone ("0", "1", "d"). */
export function parseB3Single(value: string | undefined): TraceContext | { decisionOnly: boolean } | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === "0") return { decisionOnly: false };
  if (v === "1" || v === "d") return { decisionOnly: true };
  const parts = v.split("-");
  if (parts.length < 2 || parts.length > 4) return undefined;
  const [traceId, spanId, flag, parent] = parts as [string, string, string | undefined, string | undefined];
  if (!hexId(traceId, [16, 32]) || !hexId(spanId, [16])) return undefined;
  if (flag !== undefined && flag !== "0" && flag !== "1" && flag !== "d") return undefined;
  if (parent !== undefined && !hexId(parent, [16])) return undefined;
  const debug = flag === "d";
  return { traceId, spanId, sampled: flag === undefined ? undefined : flag !== "0", ...(debug ? { debug } : {}) };
}

export function formatB3Single(traceId: string, spanId: string, sampled: boolean, parentSpanId: string | undefined, debug = false): string {
  return `${traceId}-${spanId}-${debug ? "d" : sampled ? "1" : "0"}${parentSpanId ? `-${parentSpanId}` : ""}`;
}

/** Writes the B3 multi headers for this proxy's span; x-b3-flags is left as it came. */
export function writeB3Multi(headers: IncomingHttpHeaders, traceId: string, spanId: string, parentSpanId: string | undefined, sampled: boolean): void {
  headers["x-b3-traceid"] = traceId;
  headers["x-b3-spanid"] = spanId;
  if (parentSpanId) headers["x-b3-parentspanid"] = parentSpanId;
  else delete headers["x-b3-parentspanid"];
  headers["x-b3-sampled"] = sampled ? "1" : "0";
}

export function isDecisionOnly(c: TraceContext | { decisionOnly: boolean } | undefined): c is { decisionOnly: boolean } {
  return c !== undefined && "decisionOnly" in c;
}
