// Mesh-wide settings the translators read (Istio's MeshConfig, the parts we use).
import type { Cluster, Duration } from "../xds/envoy-types.ts";

export interface MeshConfig {
  /** Namespace whose DestinationRules etc. apply mesh-wide (Istio: "istio-system"). */
  rootNamespace: string;
  /** Kubernetes cluster domain, e.g. "cluster.local". */
  domainSuffix: string;
  /** SPIFFE trust domain of workload identities (spiffe://<trustDomain>/ns/<ns>/sa/<sa>); default "cluster.local". */
  trustDomain?: string;
  /**
   * meshConfig.accessLogFile=/dev/stdout: access logs on for every sidecar with the "envoy"
   * provider, unless a Telemetry object says otherwise for a workload.
   */
  accessLog: boolean;
  /** meshConfig.accessLogEncoding: the format of the built-in "envoy" provider (default TEXT). */
  accessLogEncoding?: "TEXT" | "JSON";
  /** meshConfig.extensionProviders with envoyFileAccessLog (Telemetry names them in providers). */
  accessLogProviders?: readonly AccessLogProvider[];
  /**
   * meshConfig.outboundTrafficPolicy: what a sidecar does with a request for a host it has no
   * service for. ALLOW_ANY (Istio's default, also when absent) forwards it to the host it names
   * (PassthroughCluster); REGISTRY_ONLY answers 502 (BlackHoleCluster). A Sidecar's own
   * spec.outboundTrafficPolicy overrides it for the workloads it selects.
   */
  outboundTrafficPolicy?: { mode: OutboundTrafficMode };
  /**
   * meshConfig.dnsRefreshRate: how often a DNS-resolved ServiceEntry's host is looked up again
   * (Envoy's dns_refresh_rate). Absent: the proxy's default (Envoy's 5 s). Answers with a longer
   * TTL are kept for their TTL either way (respect_dns_ttl).
   */
  dnsRefreshRate?: Duration;
  /**
   * meshConfig.enableTracing. Istio's legacy switch for tracing through the proxy's bootstrap
   * tracer; Mizzen's proxy has none, so tracing needs a provider (Telemetry or defaultProviders).
   */
  enableTracing?: boolean;
  /** meshConfig.defaultProviders.tracing: used where no Telemetry names a provider (Istio takes the first). */
  defaultTracingProviders?: readonly string[];
  /** meshConfig.extensionProviders with opentelemetry or zipkin (Telemetry names them in tracing.providers). */
  tracingProviders?: readonly TracingProvider[];
  /** meshConfig.defaultConfig.tracing.sampling: percent of requests traced when Telemetry sets none (absent or 0: Istio's 1 %). */
  tracingSampling?: number;
  /** meshConfig.meshId (Istio's default: the trust domain); the istio.mesh_id span tag. */
  meshId?: string;
}

/** meshConfig.extensionProviders[] for tracing; `source` is where it was written (for warnings). */
export type TracingProvider = OpenTelemetryProvider | ZipkinProvider;

/** extensionProviders[].opentelemetry: OTLP to `service`:`port`, over HTTP when `http` is set (else gRPC). */
export interface OpenTelemetryProvider {
  kind: "opentelemetry";
  name: string;
  /** "[<namespace>/]<hostname>" of a service in the registry (Istio's form). */
  service: string;
  port: number;
  http?: { path: string; timeout?: Duration; headers: readonly { name: string; value: string }[] };
  /** OTLP over gRPC (used when `http` is absent): the export call's timeout and metadata. */
  grpc?: { timeout?: Duration; initialMetadata: readonly { name: string; value: string }[] };
  source?: { file: string; line: number };
}

/** extensionProviders[].zipkin: Zipkin JSON v2 POSTed to `service`:`port` at `path` (default /api/v2/spans). */
export interface ZipkinProvider {
  kind: "zipkin";
  name: string;
  service: string;
  port: number;
  path?: string;
  /** enable64bitTraceId: new traces get 64-bit trace ids (Istio's default: 128-bit). */
  traceId64bit?: boolean;
  source?: { file: string; line: number };
}

export type OutboundTrafficMode = "ALLOW_ANY" | "REGISTRY_ONLY";

export const OUTBOUND_TRAFFIC_MODES: readonly OutboundTrafficMode[] = ["ALLOW_ANY", "REGISTRY_ONLY"];

/** The mesh-wide mode: ALLOW_ANY unless the mesh config says REGISTRY_ONLY. */
export function meshOutboundTrafficMode(mesh: MeshConfig): OutboundTrafficMode {
  return mesh.outboundTrafficPolicy?.mode === "REGISTRY_ONLY" ? "REGISTRY_ONLY" : "ALLOW_ANY";
}

/** What a STRICT_DNS cluster carries, as Istio sets it: the mesh's refresh rate, and the answer's TTL honoured. */
export function dnsRefreshSettings(mesh: MeshConfig): Pick<Cluster, "dns_refresh_rate" | "respect_dns_ttl"> {
  return { ...(mesh.dnsRefreshRate ? { dns_refresh_rate: mesh.dnsRefreshRate } : {}), respect_dns_ttl: true };
}

/** meshConfig.extensionProviders[].envoyFileAccessLog: a file logger with a text or JSON format. */
export interface AccessLogProvider {
  name: string;
  /** Only "/dev/stdout" is written by the Mizzen proxy. */
  path: string;
  /** logFormat.text (Envoy format string) or logFormat.labels (JSON keys -> Envoy format strings). */
  logFormat?: { text: string } | { labels: Readonly<Record<string, string>> };
}

export const DEFAULT_MESH_CONFIG: MeshConfig = {
  rootNamespace: "istio-system",
  domainSuffix: "cluster.local",
  accessLog: true,
};
