// A finished, sampled span as the proxy keeps it until export: ids, times, and Envoy's tags
// (component, node_id, guid:x-request-id, http.url, http.method, http.protocol, user_agent,
// peer.address, request_size, response_size, upstream_cluster, upstream_address,
// http.status_code, response_flags, error) plus the HCM's custom tags. Built only for sampled
// requests; exporters turn it into their own shape (exporters.ts).
import type { IncomingHttpHeaders } from "node:http";
import type { CompiledCluster } from "../../state/types.ts";
import type { RequestLog } from "../../http/request-log.ts";
import type { CompiledTracing } from "./compile-tracing.ts";
import type { RequestSpan } from "./request-span.ts";

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  kind: "SERVER" | "CLIENT";
  startMs: number;
  endMs: number;
  attributes: Record<string, string>;
  /** 5xx or no response: the span's status is ERROR. */
  error: boolean;
}

function header(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/** scheme://authority/path, the path cut to max_path_tag_length (Envoy's http.url). */
function url(t: CompiledTracing, log: RequestLog, headers: IncomingHttpHeaders | undefined): string {
  const scheme = header(headers, "x-forwarded-proto") ?? "http";
  const path = log.path.length > t.maxPathTagLength ? log.path.slice(0, t.maxPathTagLength) : log.path;
  return `${scheme}://${log.authority}${path}`;
}

/** Istio's operation names: "<service host>:<port>/*" for a mesh service, else the authority and path. */
function spanName(inbound: boolean, log: RequestLog, cluster: CompiledCluster | undefined): string {
  if (!inbound && cluster?.istioService) {
    const port = cluster.name.split("|")[1];
    return `${cluster.istioService.host}:${port}/*`;
  }
  const q = log.path.indexOf("?");
  return `${log.authority}${q >= 0 ? log.path.slice(0, q) : log.path}`;
}

export interface SpanSelf {
  /** The proxy's node id (Envoy's node_id tag). */
  nodeId: string;
}

/** The record of a finished request's span; call only for sampled spans. */
export function spanRecord(s: RequestSpan, t: CompiledTracing, inbound: boolean, log: RequestLog, headers: IncomingHttpHeaders | undefined, cluster: CompiledCluster | undefined, self: SpanSelf, endMs: number): SpanRecord {
  const error = log.status === 0 || log.status >= 500;
  const a: Record<string, string> = {
    component: "proxy",
    node_id: self.nodeId,
    "guid:x-request-id": log.requestId ?? "-",
    "http.url": url(t, log, headers),
    "http.method": log.method,
    "http.protocol": log.protocol,
    downstream_cluster: header(headers, "x-envoy-downstream-service-cluster") ?? "-",
    user_agent: log.userAgent ?? "-",
    "peer.address": log.downstreamRemote,
    request_size: String(log.bytesReceived),
    response_size: String(log.bytesSent),
    upstream_cluster: log.upstreamCluster,
    "upstream_cluster.name": log.upstreamCluster,
    upstream_address: log.upstreamHost,
    "http.status_code": String(log.status),
    response_flags: log.flags || "-",
  };
  if (error) a.error = "true";
  for (const [k, v] of t.fixedTags) a[k] = v;
  for (const h of t.headerTags) {
    const v = header(headers, h.header) ?? h.defaultValue;
    if (v !== undefined) a[h.tag] = v;
  }
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    traceState: s.traceState,
    name: spanName(inbound, log, cluster),
    kind: inbound ? "SERVER" : "CLIENT",
    startMs: s.startMs,
    endMs: Math.max(endMs, s.startMs),
    attributes: a,
    error,
  };
}
