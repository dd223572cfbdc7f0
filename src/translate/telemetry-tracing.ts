// Telemetry tracing + meshConfig tracing providers -> the `tracing` of a sidecar's HTTP
// connection managers (CLIENT = the outbound one, SERVER = inbound ones), as Istio builds it.
//
// Which spec applies: meshConfig.defaultProviders.tracing[0] first, then every `tracing` entry
// of the applicable Telemetry objects, least specific first (root namespace, the workload's
// namespace, a selector matching it: telemetry.ts's levels). An entry counts for the direction
// its match.mode names (default both) and overrides what it sets: providers (the first one is
// used), disableSpanReporting, customTags (replaced whole), randomSamplingPercentage.
// Without a provider there is no tracing; without any entry or default provider neither
// (meshConfig.enableTracing alone relies on Envoy's bootstrap tracer, which Mizzen has not).
// Sampling: the spec's randomSamplingPercentage, else defaultConfig.tracing.sampling, else
// Istio's 1 %. Istio's literal tags (istio.canonical_service, ...) come first, sorted with the
// user's. A provider whose service is not in the registry gives no tracing (and a warning).
import type { ConfigError, ConfigObject } from "../api/types.ts";
import type { Registry, Service } from "../registry/types.ts";
import { TYPE, type CustomTag, type HcmTracing, type HeaderValueOption } from "../xds/envoy-types.ts";
import { warnAbout, type SharedInput, type ViewInput } from "./input.ts";
import { outboundClusterName } from "./hosts.ts";
import type { MeshConfig, TracingProvider } from "./mesh-config.ts";
import { telemetryLevels, type AccessLogMode, type TelemetryProxyView } from "./telemetry.ts";

/** Istio's PILOT_TRACE_SAMPLING default: 1 % of requests. */
export const ISTIO_DEFAULT_SAMPLING = 1;
const OTLP_TIMEOUT = { seconds: 5 };
const ZIPKIN_DEFAULT_PATH = "/api/v2/spans";
const CLUSTER_ID = "Kubernetes";

/**
 * What tracing reads of a sidecar besides the Telemetry view: its canonical service and
 * revision (listenerView computes them; a whole ProxyNode passed instead has `name` and all labels).
 */
export interface TracingProxyView extends TelemetryProxyView {
  canonical?: { service: string; revision: string };
  name?: string;
}

function canonicalOfView(p: TracingProxyView): { service: string; revision: string } {
  return p.canonical ?? canonicalOf(p.labels, p.name ?? "");
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Istio's canonical service and revision of a workload: its labels, else the usual app labels. */
export function canonicalOf(labels: Readonly<Record<string, string>>, workload: string): { service: string; revision: string } {
  return {
    service: labels["service.istio.io/canonical-name"] || labels["app.kubernetes.io/name"] || labels.app || workload || "unknown",
    revision: labels["service.istio.io/canonical-revision"] || labels["app.kubernetes.io/version"] || labels.version || "latest",
  };
}

/** Does any config turn tracing on somewhere (then listener views carry the canonical service)? */
export function tracingInUse(objects: readonly ConfigObject[], mesh: MeshConfig): boolean {
  return (mesh.defaultTracingProviders?.length ?? 0) > 0 || objects.some((o) => o.kind === "Telemetry" && list(o.spec.tracing).length > 0);
}

/** The merged spec of one direction, before the provider is turned into Envoy config. */
export interface TracingSpec {
  provider: string | undefined;
  disabled: boolean;
  /** Set only when some Telemetry entry said it. */
  randomSamplingPercentage: number | undefined;
  customTags: Obj | undefined;
  enableIstioTags: boolean;
}

/** The spec for one direction, or undefined when neither Telemetry nor defaultProviders speak of tracing. */
export function tracingSpec(objects: readonly ConfigObject[], proxy: TelemetryProxyView, mesh: MeshConfig, mode: AccessLogMode): TracingSpec | undefined {
  const entries = telemetryLevels(objects, proxy, mesh).flatMap((o) => list(o.spec.tracing).map(obj));
  const defaults = mesh.defaultTracingProviders ?? [];
  if (entries.length === 0 && defaults.length === 0) return undefined;
  const spec: TracingSpec = { provider: defaults[0], disabled: false, randomSamplingPercentage: undefined, customTags: undefined, enableIstioTags: true };
  for (const e of entries) {
    const m = String(obj(e.match).mode ?? "CLIENT_AND_SERVER");
    if (m !== "CLIENT_AND_SERVER" && m !== mode) continue;
    const names = list(e.providers).map((p) => String(obj(p).name ?? "")).filter((n) => n !== "");
    if (names.length > 0) spec.provider = names[0];
    if (typeof e.disableSpanReporting === "boolean") spec.disabled = e.disableSpanReporting;
    if (e.customTags !== undefined && e.customTags !== null) spec.customTags = obj(e.customTags);
    if (typeof e.randomSamplingPercentage === "number") spec.randomSamplingPercentage = e.randomSamplingPercentage;
    if (typeof e.enableIstioTags === "boolean") spec.enableIstioTags = e.enableIstioTags;
  }
  return spec;
}

/** meshConfig.defaultConfig.tracing.sampling as Istio reads it: 0 or absent means 1 %, above 100 means 1 %. */
export function meshSampling(mesh: MeshConfig): number {
  const s = mesh.tracingSampling;
  if (s === undefined || s === 0 || !Number.isFinite(s)) return ISTIO_DEFAULT_SAMPLING;
  return s > 100 || s < 0 ? ISTIO_DEFAULT_SAMPLING : s;
}

/** Tracing providers by name, case-insensitively (Istio's fetchProvider). */
export function findTracingProvider(mesh: MeshConfig, name: string): TracingProvider | undefined {
  const n = name.toLowerCase();
  return mesh.tracingProviders?.find((p) => p.name.toLowerCase() === n);
}

/** Istio's LookupCluster: "[<namespace>/]<hostname>" of a registry service; ambiguous or unknown -> reason. */
export function lookupProviderService(registry: Registry, service: string, port: number): { service: Service; cluster: string } | { problem: string } {
  if (!service) return { problem: "service is empty" };
  const slash = service.indexOf("/");
  const ns = slash >= 0 ? service.slice(0, slash) : undefined;
  const host = slash >= 0 ? service.slice(slash + 1) : service;
  const s = registry.services.get(host);
  if (!s || (ns !== undefined && s.namespace !== ns)) {
    return { problem: `service "${service}" is not in the registry (write the full host name of a Service or ServiceEntry, optionally as "<namespace>/<host>")` };
  }
  if (!s.ports.some((p) => p.number === port)) {
    return { problem: `service "${host}" has no port ${port} (its ports: ${s.ports.map((p) => p.number).join(", ") || "none"})` };
  }
  return { service: s, cluster: outboundClusterName(port, "", s.hostname) };
}

function customTagsFrom(tags: Obj | undefined): CustomTag[] {
  const out: CustomTag[] = [];
  for (const [tag, raw] of Object.entries(tags ?? {})) {
    const t = obj(raw);
    const lit = obj(t.literal);
    const env = obj(t.environment);
    const hdr = obj(t.header);
    if (typeof lit.value === "string" && lit.value !== "") out.push({ tag, literal: { value: lit.value } });
    else if (typeof env.name === "string" && env.name !== "") out.push({ tag, environment: { name: env.name, ...(typeof env.defaultValue === "string" && env.defaultValue ? { default_value: env.defaultValue } : {}) } });
    else if (typeof hdr.name === "string" && hdr.name !== "") out.push({ tag, request_header: { name: hdr.name, ...(typeof hdr.defaultValue === "string" && hdr.defaultValue ? { default_value: hdr.defaultValue } : {}) } });
    // Anything else is reported by tracingWarnings() and left out.
  }
  return out;
}

function istioTags(proxy: TracingProxyView, mesh: MeshConfig): CustomTag[] {
  const canonical = canonicalOfView(proxy);
  const lit = (tag: string, value: string): CustomTag => ({ tag, literal: { value } });
  return [
    lit("istio.canonical_revision", canonical.revision),
    lit("istio.canonical_service", canonical.service),
    lit("istio.cluster_id", CLUSTER_ID),
    lit("istio.mesh_id", mesh.meshId || mesh.trustDomain || "cluster.local"),
    lit("istio.namespace", proxy.namespace || "default"),
  ];
}

function headersToAdd(headers: readonly { name: string; value: string }[]): HeaderValueOption[] {
  return headers.map((h) => ({ header: { key: h.name, value: h.value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }));
}

/** The provider part of HCM tracing, or undefined when it cannot be built (tracingWarnings says why). */
function providerConfig(p: TracingProvider, registry: Registry, serviceName: string): HcmTracing["provider"] | undefined {
  const found = lookupProviderService(registry, p.service, p.port);
  if ("problem" in found) return undefined;
  const host = found.service.hostname;
  if (p.kind === "zipkin") {
    return {
      name: "envoy.tracers.zipkin",
      typed_config: {
        "@type": TYPE.zipkinTracer,
        collector_cluster: found.cluster,
        collector_endpoint: p.path || ZIPKIN_DEFAULT_PATH,
        collector_endpoint_version: "HTTP_JSON",
        trace_id_128bit: p.traceId64bit !== true,
        shared_span_context: { value: false },
        collector_hostname: host,
      },
    };
  }
  if (!p.http) {
    // OTLP over gRPC, as Istio writes it: Envoy's gRPC client to the collector's cluster.
    return {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": TYPE.openTelemetryTracer,
        service_name: serviceName,
        grpc_service: {
          envoy_grpc: { cluster_name: found.cluster, authority: host },
          timeout: p.grpc?.timeout ?? OTLP_TIMEOUT,
          ...(p.grpc?.initialMetadata.length ? { initial_metadata: p.grpc.initialMetadata.map((h) => ({ key: h.name, value: h.value })) } : {}),
        },
      },
    };
  }
  const path = p.http.path.startsWith("/") ? p.http.path : `/${p.http.path}`;
  return {
    name: "envoy.tracers.opentelemetry",
    typed_config: {
      "@type": TYPE.openTelemetryTracer,
      service_name: serviceName,
      http_service: {
        http_uri: { uri: `${host}${path}`, cluster: found.cluster, timeout: p.http.timeout ?? OTLP_TIMEOUT },
        ...(p.http.headers.length ? { request_headers_to_add: headersToAdd(p.http.headers) } : {}),
      },
    },
  };
}

/** The HCM `tracing` of one direction of a sidecar; undefined when that direction does not trace. */
export function tracingFor(input: ViewInput<TracingProxyView>, mode: AccessLogMode): HcmTracing | undefined {
  const { proxy, mesh } = input;
  const spec = tracingSpec(input.objects, proxy, mesh, mode);
  if (!spec || spec.disabled || spec.provider === undefined) return undefined;
  const p = findTracingProvider(mesh, spec.provider);
  if (!p) return undefined;
  const serviceName = `${canonicalOfView(proxy).service}.${proxy.namespace || "default"}`;
  const provider = providerConfig(p, input.registry, serviceName);
  if (!provider) return undefined;
  const sampling = spec.randomSamplingPercentage ?? meshSampling(mesh);
  const tags = [...(spec.enableIstioTags ? istioTags(proxy, mesh) : []), ...customTagsFrom(spec.customTags)]
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return {
    client_sampling: { value: 100 },
    random_sampling: { value: Math.min(100, Math.max(0, sampling)) },
    overall_sampling: { value: 100 },
    ...(tags.length ? { custom_tags: tags } : {}),
    provider,
  };
}

/**
 * Tracing config that is kept but cannot act as written: providers the mesh does not define
 * (or that are not tracing providers), custom tags without a literal, environment or header,
 * and providers whose service is not in the registry. Independent of proxies.
 */
export function tracingWarnings(input: Pick<SharedInput, "objects" | "mesh" | "registry">): ConfigError[] {
  const sink: ConfigError[] = [];
  for (const o of input.objects) {
    if (o.kind !== "Telemetry") continue;
    list(o.spec.tracing).map(obj).forEach((entry, i) => {
      list(entry.providers).forEach((p, j) => {
        const name = String(obj(p).name ?? "");
        if (!findTracingProvider(input.mesh, name)) {
          const other = input.mesh.accessLogProviders?.some((a) => a.name.toLowerCase() === name.toLowerCase()) || name === "envoy";
          warnAbout(sink, o, `spec.tracing[${i}].providers[${j}].name`, other
            ? `provider "${name}" is an access log provider, not a tracing one; this entry traces nothing (use an extensionProviders entry with opentelemetry or zipkin)`
            : `tracing provider "${name}" is not defined; this entry traces nothing (add it to the mesh config's extensionProviders with opentelemetry or zipkin)`);
        }
      });
      for (const [tag, raw] of Object.entries(obj(entry.customTags))) {
        if (customTagsFrom({ [tag]: raw }).length === 0) {
          warnAbout(sink, o, `spec.tracing[${i}].customTags.${tag}`, "a custom tag needs literal.value, environment.name or header.name; the tag is left out");
        }
      }
    });
  }
  for (const p of input.mesh.tracingProviders ?? []) {
    const found = lookupProviderService(input.registry, p.service, p.port);
    if ("problem" in found) sink.push(providerWarning(p, `${p.kind}.service`, `${found.problem}; sidecars using provider "${p.name}" do not trace`));
  }
  return sink;
}

function providerWarning(p: TracingProvider, field: string, message: string): ConfigError {
  return { file: p.source?.file ?? "mesh config", line: p.source?.line ?? 1, kind: "MeshConfig", field: `extensionProviders[${p.name}].${field}`, message, severity: "warning" };
}
