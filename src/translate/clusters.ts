// CDS: outbound clusters (per service port and per DestinationRule subset) and, for a
// sidecar, inbound clusters to the application it fronts. Names and defaults are Istio's.
import type { Cluster, HttpProtocolOptionsAny } from "../xds/envoy-types.ts";
import { protocolForPort } from "../registry/protocol.ts";
import type { ProxyNode, WorkloadPort } from "../xds/node.ts";
import { num, obj, str, type Obj } from "../registry/read-spec.ts";
import type { TrafficPolicy } from "./destination-rules.ts";
import { toDuration } from "./duration.ts";
import { inboundClusterName } from "./hosts.ts";
import { byName, warnAbout, type ViewInput, type WarningSink } from "./input.ts";
import { istioConfigPath, istioMetadata, type PlainValue } from "./metadata.ts";
import { loadAssignment } from "./endpoints.ts";
import { outboundClusterPlans, type ClusterPlan } from "./cluster-plans.ts";
import { narrowLabels } from "./sidecar-scope.ts";
import { egressPolicyClusters } from "./passthrough-clusters.ts";
import { dnsRefreshSettings } from "./mesh-config.ts";
import { applyUpstreamTls, istioSni, spiffeId } from "./tls.ts";
import { applyConsistentHash, consistentHashProblems } from "./consistent-hash.ts";
import { localityLbSettingOf, usesLocalityWeights } from "./locality-lb.ts";
import type { Endpoint } from "../registry/types.ts";

/** Istio's mesh-wide default connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT = { seconds: 10 };
/** Istio leaves circuit breakers effectively unlimited unless a DestinationRule says otherwise. */
export const UNLIMITED = 4294967295;

const EDS_CONFIG = { ads: {}, resource_api_version: "V3" } as const;

/** What outbound CDS reads of the proxy: its namespace (what it sees) and type (gRPC limits). */
export type OutboundClusterProxyView = Pick<ProxyNode, "type" | "namespace"> & { labels: Readonly<Record<string, string>> };

/** `sidecarKeys`: the label keys Sidecar workloadSelectors name (sidecarLabelKeys of the same config). */
export function outboundClusterView(p: ProxyNode, sidecarKeys: ReadonlySet<string> = new Set()): OutboundClusterProxyView {
  return { type: p.type, namespace: p.namespace, labels: narrowLabels(p.labels, sidecarKeys) };
}

/** The whole view as a string: proxies with equal keys get equal outbound clusters. */
export function outboundClusterViewKey(v: OutboundClusterProxyView): string {
  return JSON.stringify([v.type, v.namespace, Object.entries(v.labels)]);
}

/** What inbound CDS reads of the proxy: its type, where its application listens, its ports (name and protocol pick HTTP/2). */
export interface InboundClusterProxyView {
  type: ProxyNode["type"];
  appAddress: string;
  ports: readonly Pick<WorkloadPort, "containerPort" | "name" | "protocol">[];
}

export function inboundClusterView(p: ProxyNode): InboundClusterProxyView {
  return { type: p.type, appAddress: p.appAddress, ports: p.ports.map((wp) => ({ containerPort: wp.containerPort, name: wp.name, protocol: wp.protocol })) };
}

/** The whole view as a string: proxies with equal keys get equal inbound clusters. */
export function inboundClusterViewKey(v: InboundClusterProxyView): string {
  return JSON.stringify([v.type, v.appAddress, v.ports.map((wp) => [wp.containerPort, wp.name, wp.protocol ?? ""])]);
}

/** Envoy's upstream protocol option, as Istio sets it for GRPC and HTTP2 ports: talk HTTP/2 to the endpoints. */
export const HTTP2_PROTOCOL_OPTIONS: { [name: string]: HttpProtocolOptionsAny } = {
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    explicit_http_config: { http2_protocol_options: {} },
  },
};

function speaksHttp2(protocol: string): boolean {
  return protocol === "GRPC" || protocol === "HTTP2";
}

function lbPolicy(lb: Obj | undefined): NonNullable<Cluster["lb_policy"]> {
  switch (str(lb?.simple)?.toUpperCase()) {
    case "LEAST_REQUEST":
    case "LEAST_CONN":
      return "LEAST_REQUEST";
    case "RANDOM":
      return "RANDOM";
    default:
      return "ROUND_ROBIN";
  }
}

function applyConnectionPool(c: Cluster, cp: Obj | undefined): void {
  const tcp = obj(cp?.tcp);
  const http = obj(cp?.http);
  c.connect_timeout = toDuration(tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT;
  c.circuit_breakers = {
    thresholds: [{
      max_connections: { value: num(tcp?.maxConnections) ?? UNLIMITED },
      max_pending_requests: { value: num(http?.http1MaxPendingRequests) ?? UNLIMITED },
      max_requests: { value: num(http?.http2MaxRequests) ?? UNLIMITED },
      max_retries: { value: num(http?.maxRetries) ?? UNLIMITED },
    }],
  };
  const idle = toDuration(http?.idleTimeout);
  const perConn = num(http?.maxRequestsPerConnection);
  if (idle || perConn !== undefined) {
    c.common_http_protocol_options = {
      ...(idle ? { idle_timeout: idle } : {}),
      ...(perConn !== undefined ? { max_requests_per_connection: { value: perConn } } : {}),
    };
  }
}

function applyOutlierDetection(c: Cluster, od: Obj | undefined): void {
  if (!od) return;
  const out: NonNullable<Cluster["outlier_detection"]> = {};
  const c5xx = num(od.consecutive5xxErrors) ?? num(od.consecutiveErrors);
  // As Istio: a threshold that is set is also enforced (100 %), unless it is 0 (off).
  if (c5xx !== undefined) {
    out.consecutive_5xx = { value: c5xx };
    out.enforcing_consecutive_5xx = { value: c5xx > 0 ? 100 : 0 };
  }
  const gw = num(od.consecutiveGatewayErrors);
  if (gw !== undefined) {
    out.consecutive_gateway_failure = { value: gw };
    out.enforcing_consecutive_gateway_failure = { value: gw > 0 ? 100 : 0 };
  }
  const interval = toDuration(od.interval);
  if (interval) out.interval = interval;
  const base = toDuration(od.baseEjectionTime);
  if (base) out.base_ejection_time = base;
  const maxPct = num(od.maxEjectionPercent);
  if (maxPct !== undefined) out.max_ejection_percent = { value: maxPct };
  c.outlier_detection = out;
  // Istio turns Envoy's panic mode off (0 %) unless minHealthPercent asks for it.
  c.common_lb_config = { healthy_panic_threshold: { value: num(od.minHealthPercent) ?? 0 } };
}

function applyPolicy(c: Cluster, p: TrafficPolicy): void {
  c.lb_policy = lbPolicy(p.loadBalancer);
  applyConsistentHash(c, p.loadBalancer);
  applyConnectionPool(c, p.connectionPool);
  applyOutlierDetection(c, p.outlierDetection);
  // Localities share load by their EDS weights (Istio: distribute, or failover rules with outlier detection).
  if (usesLocalityWeights(localityLbSettingOf(p), p.outlierDetection !== undefined)) {
    c.common_lb_config = { ...c.common_lb_config, locality_weighted_lb_config: {} };
  }
}

function clusterMetadata(plan: ClusterPlan): Cluster["metadata"] {
  const s = plan.service;
  const fields: { [k: string]: PlainValue } = {
    services: [{ host: s.hostname, name: s.aliases[0] ?? s.hostname, namespace: s.namespace }],
  };
  if (plan.rule) fields.config = istioConfigPath("DestinationRule", plan.rule.rule.metadata.namespace, plan.rule.rule.metadata.name);
  return istioMetadata(fields);
}

function outboundCluster(input: ViewInput<OutboundClusterProxyView>, plan: ClusterPlan, warnings?: WarningSink): Cluster | undefined {
  const grpc = input.proxy.type === "grpc";
  const c: Cluster = { name: plan.name };
  const eps = () => input.registry.endpoints.get(`${plan.service.hostname}:${plan.port.number}`) ?? [];
  if (plan.discovery === "EDS") {
    c.type = "EDS";
    c.eds_cluster_config = { eds_config: { ...EDS_CONFIG }, service_name: plan.name };
  } else if (plan.discovery === "DNS") {
    const la = loadAssignment(plan.name, eps(), plan.subset?.labels);
    if (grpc) {
      // gRPC supports LOGICAL_DNS with exactly one endpoint, not STRICT_DNS.
      const first = la.endpoints[0]?.lb_endpoints[0];
      if (!first) return undefined;
      c.type = "LOGICAL_DNS";
      c.load_assignment = { cluster_name: plan.name, endpoints: [{ lb_endpoints: [first] }] };
    } else {
      c.type = "STRICT_DNS";
      c.load_assignment = la;
      Object.assign(c, dnsRefreshSettings(input.mesh));
    }
  } else {
    if (grpc) return undefined; // proxyless gRPC has no original-destination clusters
    c.type = "ORIGINAL_DST";
  }
  applyPolicy(c, plan.policy);
  if (plan.rule) for (const m of consistentHashProblems(plan.policy.loadBalancer)) warnAbout(warnings, plan.rule.rule, "spec.trafficPolicy.loadBalancer.consistentHash", m);
  if (plan.discovery === "ORIGINAL_DST") c.lb_policy = "CLUSTER_PROVIDED";
  if (grpc && c.lb_policy !== "ROUND_ROBIN") {
    if (plan.rule) warnAbout(warnings, plan.rule.rule, "spec.trafficPolicy.loadBalancer", `proxyless gRPC clients support only ROUND_ROBIN; ${c.lb_policy} is replaced by ROUND_ROBIN for them`);
    c.lb_policy = "ROUND_ROBIN";
  }
  // A replaced policy keeps no hash settings.
  if (c.lb_policy !== "RING_HASH") delete c.ring_hash_lb_config;
  if (c.lb_policy !== "MAGLEV") delete c.maglev_lb_config;
  // DestinationRule connectionPool.http.h2UpgradePolicy UPGRADE: HTTP/1.1 ports are carried
  // over HTTP/2 between sidecars (the destination's sidecar speaks HTTP/1.1 to its app).
  const upgrade = str(obj(obj(plan.policy.connectionPool)?.http)?.h2UpgradePolicy) === "UPGRADE" && plan.port.protocol === "HTTP";
  if (!grpc && (speaksHttp2(plan.port.protocol) || upgrade)) c.typed_extension_protocol_options = HTTP2_PROTOCOL_OPTIONS;
  if (!grpc && plan.discovery !== "ORIGINAL_DST") applyMeshTls(c, input, plan, eps());
  c.metadata = clusterMetadata(plan);
  return c;
}

/** DestinationRule tls, or auto mTLS to endpoints that run a sidecar (mesh-internal services only). */
function applyMeshTls(c: Cluster, input: ViewInput<OutboundClusterProxyView>, plan: ClusterPlan, endpoints: readonly Endpoint[]): void {
  const tls = plan.policy.tls;
  if (!tls && plan.service.location === "MESH_EXTERNAL") return;
  const trustDomain = input.mesh.trustDomain ?? "cluster.local";
  const accounts = new Set<string>();
  for (const e of endpoints) if (e.tlsMode === "istio" && e.serviceAccount) accounts.add(spiffeId(trustDomain, e.namespace, e.serviceAccount));
  applyUpstreamTls(c, {
    tls,
    sans: [...accounts].sort(),
    sni: istioSni(plan.port.number, plan.subset?.name ?? "", plan.service.hostname),
    http2: speaksHttp2(plan.port.protocol),
  });
}

/** Inbound clusters: one per workload port, a static endpoint at the application. */
export function inboundClusters(p: InboundClusterProxyView): Cluster[] {
  if (p.type !== "sidecar" || !p.appAddress) return [];
  const seen = new Set<number>();
  const out: Cluster[] = [];
  for (const wp of p.ports) {
    if (seen.has(wp.containerPort)) continue;
    seen.add(wp.containerPort);
    const name = inboundClusterName(wp.containerPort);
    out.push({
      name,
      type: "STATIC",
      connect_timeout: DEFAULT_CONNECT_TIMEOUT,
      lb_policy: "ROUND_ROBIN",
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: p.appAddress, port_value: wp.containerPort } } }, health_status: "HEALTHY" }] }],
      },
      circuit_breakers: { thresholds: [{ max_connections: { value: UNLIMITED }, max_pending_requests: { value: UNLIMITED }, max_requests: { value: UNLIMITED }, max_retries: { value: UNLIMITED } }] },
      // The workload port's protocol (explicit, else from its name as Istio reads port names).
      ...(speaksHttp2(protocolForPort({ port: wp.containerPort, name: wp.name, appProtocol: wp.protocol })) ? { typed_extension_protocol_options: HTTP2_PROTOCOL_OPTIONS } : {}),
    });
  }
  return out;
}

/** Outbound clusters (per visible service port and subset), sorted by name. */
export function outboundClusters(input: ViewInput<OutboundClusterProxyView>, warnings?: WarningSink): Cluster[] {
  const out: Cluster[] = [];
  for (const plan of outboundClusterPlans(input)) {
    const c = outboundCluster(input, plan, warnings);
    if (c) out.push(c);
  }
  out.push(...egressPolicyClusters(input));
  return out.sort(byName);
}

/** Both parts in one list sorted by name; neither input list is changed. */
export function mergeClusters(outbound: readonly Cluster[], inbound: readonly Cluster[]): Cluster[] {
  return [...outbound, ...inbound].sort(byName);
}

/** Every cluster of a proxy: the outbound part and its own inbound part. */
export function translateClusters(input: ViewInput<OutboundClusterProxyView & InboundClusterProxyView>, warnings?: WarningSink): Cluster[] {
  return mergeClusters(outboundClusters(input, warnings), inboundClusters(input.proxy));
}
