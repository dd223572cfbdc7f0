// HttpConnectionManager.tracing -> CompiledTracing, once per snapshot: sampling percentages,
// the provider (where spans go and in which format), and custom tags (literal and environment
// tags resolved now, request-header tags looked up per request). A malformed config is
// refused (NACK) with its field; a provider the proxy cannot export to (Zipkin proto) still
// propagates context, and its spans are counted as skipped.
import type { CustomTag, HcmTracing } from "../../../xds/envoy-types.ts";
import { TYPE } from "../../../xds/envoy-types.ts";
import { ConfigInvalid, durationMs } from "../../state/string-match.ts";

export type TraceFormat = "opentelemetry" | "zipkin";

/** Where and how one provider's spans are exported. */
export interface CompiledTraceProvider {
  kind: TraceFormat;
  /** OTLP goes over HTTP (JSON) or gRPC; Zipkin always over HTTP. */
  transport: "http" | "grpc";
  /** The collector cluster; its endpoints are looked up when a batch goes out. */
  cluster: string;
  /** Request path on the collector, e.g. "/v1/traces" or "/api/v2/spans" ("" for gRPC). */
  path: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** OpenTelemetryConfig.service_name; undefined: the proxy's own "<canonical service>.<namespace>". */
  serviceName: string | undefined;
  /** Zipkin: new traces get 128-bit ids (true) or 64-bit ones. */
  traceId128: boolean;
  /** undefined when spans can be exported; else why not (they are counted, context still propagates). */
  unsupported: string | undefined;
  /** Equal providers share one exporter and queue. */
  key: string;
}

export interface CompiledTracing {
  kind: TraceFormat;
  provider: CompiledTraceProvider;
  /** Percentages 0-100, Envoy's defaults 100. */
  randomSampling: number;
  clientSampling: number;
  overallSampling: number;
  maxPathTagLength: number;
  /** Literal and environment tags, resolved at compile time. */
  fixedTags: readonly (readonly [string, string])[];
  /** Request-header tags: the header's value, or the default when absent (no tag without either). */
  headerTags: readonly { tag: string; header: string; defaultValue: string | undefined }[];
}

const OTEL = "envoy.tracers.opentelemetry";
const ZIPKIN = "envoy.tracers.zipkin";
const DEFAULT_MAX_PATH_TAG = 256;
const DEFAULT_TIMEOUT_MS = 5000;

function percent(p: { value?: unknown } | undefined, field: string): number {
  if (p === undefined || p === null) return 100;
  const v = p.value ?? 0;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 100) throw new ConfigInvalid(field, `${JSON.stringify(v)} is not a percentage from 0 to 100`);
  return v;
}

/** "host/path", "http://host/path" or "/path" -> "/path" (the host is the cluster's business). */
function uriPath(uri: unknown, field: string): string {
  if (typeof uri !== "string" || uri.trim() === "") throw new ConfigInvalid(field, 'uri is empty (e.g. "collector.example/v1/traces")');
  const noScheme = uri.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = noScheme.indexOf("/");
  return slash >= 0 ? noScheme.slice(slash) : "/";
}

function otelProvider(cfg: Record<string, unknown>, field: string): CompiledTraceProvider {
  const http = cfg.http_service as { http_uri?: { uri?: unknown; cluster?: unknown; timeout?: { seconds?: number; nanos?: number } }; request_headers_to_add?: { header?: { key?: unknown; value?: unknown } }[] } | undefined;
  const serviceName = typeof cfg.service_name === "string" && cfg.service_name ? cfg.service_name : undefined;
  if (!http) return otelGrpcProvider(cfg, field, serviceName);
  const at = `${field}.http_service.http_uri`;
  const cluster = http.http_uri?.cluster;
  if (typeof cluster !== "string" || cluster === "") throw new ConfigInvalid(`${at}.cluster`, "the collector cluster is empty");
  const path = uriPath(http.http_uri?.uri, `${at}.uri`);
  const timeoutMs = durationMs(http.http_uri?.timeout, `${at}.timeout`) || DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = {};
  (http.request_headers_to_add ?? []).forEach((h, i) => {
    const key = h?.header?.key;
    if (typeof key !== "string" || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(key)) throw new ConfigInvalid(`${field}.http_service.request_headers_to_add[${i}].header.key`, `${JSON.stringify(key)} is not a header name`);
    headers[key.toLowerCase()] = String(h.header?.value ?? "");
  });
  const key = JSON.stringify(["opentelemetry", cluster, path, headers, timeoutMs, serviceName ?? ""]);
  return { kind: "opentelemetry", transport: "http", cluster, path, headers, timeoutMs, serviceName, traceId128: true, unsupported: undefined, key };
}

/** OTLP over gRPC: Envoy's gRPC client (envoy_grpc) to the collector cluster; metadata travels as headers. */
function otelGrpcProvider(cfg: Record<string, unknown>, field: string, serviceName: string | undefined): CompiledTraceProvider {
  const grpc = cfg.grpc_service as { envoy_grpc?: { cluster_name?: unknown }; google_grpc?: unknown; timeout?: { seconds?: number; nanos?: number }; initial_metadata?: { key?: unknown; value?: unknown }[] } | undefined;
  const at = `${field}.grpc_service`;
  if (!grpc) throw new ConfigInvalid(field, "neither http_service nor grpc_service is set: spans have nowhere to go");
  if (grpc.google_grpc !== undefined && grpc.google_grpc !== null) throw new ConfigInvalid(`${at}.google_grpc`, "only envoy_grpc (a cluster) is supported");
  const cluster = grpc.envoy_grpc?.cluster_name;
  if (typeof cluster !== "string" || cluster === "") throw new ConfigInvalid(`${at}.envoy_grpc.cluster_name`, "the collector cluster is empty");
  const timeoutMs = durationMs(grpc.timeout, `${at}.timeout`) || DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = {};
  (grpc.initial_metadata ?? []).forEach((h, i) => {
    const key = h?.key;
    if (typeof key !== "string" || !/^[0-9a-z_.-]+$/i.test(key) || key.startsWith("grpc-")) throw new ConfigInvalid(`${at}.initial_metadata[${i}].key`, `${JSON.stringify(key)} is not a gRPC metadata key (lowercase letters, digits, "-", "_", "."; not grpc-*)`);
    headers[key.toLowerCase()] = String(h.value ?? "");
  });
  const key = JSON.stringify(["opentelemetry-grpc", cluster, headers, timeoutMs, serviceName ?? ""]);
  return { kind: "opentelemetry", transport: "grpc", cluster, path: "", headers, timeoutMs, serviceName, traceId128: true, unsupported: undefined, key };
}

function zipkinProvider(cfg: Record<string, unknown>, field: string): CompiledTraceProvider {
  const cluster = cfg.collector_cluster;
  if (typeof cluster !== "string" || cluster === "") throw new ConfigInvalid(`${field}.collector_cluster`, "collector_cluster is empty");
  const endpoint = cfg.collector_endpoint;
  if (typeof endpoint !== "string" || !endpoint.startsWith("/")) throw new ConfigInvalid(`${field}.collector_endpoint`, 'collector_endpoint must be a path such as "/api/v2/spans"');
  const version = cfg.collector_endpoint_version ?? "HTTP_JSON";
  const unsupported = version === "HTTP_JSON" ? undefined : String(version);
  const traceId128 = cfg.trace_id_128bit === true;
  const key = JSON.stringify(["zipkin", cluster, endpoint, unsupported ?? ""]);
  return { kind: "zipkin", transport: "http", cluster, path: endpoint, headers: {}, timeoutMs: DEFAULT_TIMEOUT_MS, serviceName: undefined, traceId128, unsupported, key };
}

function compileTags(tags: readonly CustomTag[] | undefined, field: string, env: NodeJS.ProcessEnv): Pick<CompiledTracing, "fixedTags" | "headerTags"> {
  const fixedTags: [string, string][] = [];
  const headerTags: CompiledTracing["headerTags"][number][] = [];
  (tags ?? []).forEach((t, i) => {
    const at = `${field}[${i}]`;
    if (typeof t?.tag !== "string" || t.tag === "") throw new ConfigInvalid(`${at}.tag`, "the tag name is empty");
    if (t.literal) fixedTags.push([t.tag, String(t.literal.value ?? "")]);
    else if (t.environment) {
      const v = env[String(t.environment.name ?? "")] ?? t.environment.default_value;
      if (v !== undefined && v !== "") fixedTags.push([t.tag, v]);
    } else if (t.request_header) {
      const header = String(t.request_header.name ?? "").toLowerCase();
      if (!header) throw new ConfigInvalid(`${at}.request_header.name`, "the header name is empty");
      headerTags.push({ tag: t.tag, header, defaultValue: t.request_header.default_value || undefined });
    } else if (t.metadata) {
      // Request metadata (Istio's RBAC dry-run tags) is not kept by the proxy: the default, if any.
      if (t.metadata.default_value) fixedTags.push([t.tag, t.metadata.default_value]);
    } else throw new ConfigInvalid(at, `custom tag "${t.tag}" needs literal, environment, request_header or metadata`);
  });
  return { fixedTags, headerTags };
}

/** Compiles one HCM's tracing; `env` is where environment tags are read (the proxy's environment). */
export function compileTracing(t: HcmTracing, field: string, env: NodeJS.ProcessEnv = process.env): CompiledTracing {
  const p = t.provider;
  if (!p) throw new ConfigInvalid(`${field}.provider`, "tracing without a provider: name envoy.tracers.opentelemetry or envoy.tracers.zipkin (the Mizzen proxy has no bootstrap tracer)");
  const cfg = (p.typed_config ?? {}) as Record<string, unknown>;
  const type = cfg["@type"];
  let provider: CompiledTraceProvider;
  if (p.name === OTEL || type === TYPE.openTelemetryTracer) provider = otelProvider(cfg, `${field}.provider.typed_config`);
  else if (p.name === ZIPKIN || type === TYPE.zipkinTracer) provider = zipkinProvider(cfg, `${field}.provider.typed_config`);
  else throw new ConfigInvalid(`${field}.provider.name`, `tracer "${String(p.name)}" is not supported by the Mizzen proxy (use envoy.tracers.opentelemetry or envoy.tracers.zipkin)`);
  const maxPath = t.max_path_tag_length?.value;
  return {
    kind: provider.kind,
    provider,
    randomSampling: percent(t.random_sampling, `${field}.random_sampling`),
    clientSampling: percent(t.client_sampling, `${field}.client_sampling`),
    overallSampling: percent(t.overall_sampling, `${field}.overall_sampling`),
    maxPathTagLength: typeof maxPath === "number" && maxPath > 0 ? maxPath : DEFAULT_MAX_PATH_TAG,
    ...compileTags(t.custom_tags, `${field}.custom_tags`, env),
  };
}
