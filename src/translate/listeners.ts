// LDS. Sidecar: the explicit outbound proxy "http_proxy" on podIP:15001 (routes via RDS; its
// CONNECT tunnels for TCP, TLS and auto-detected service ports go to the virtual listeners of
// tcp-listeners.ts) and one "inbound|<port>" per workload port on podIP:<port> forwarding to
// the application: an HTTP connection manager, a tcp_proxy, or both behind http_inspector,
// by the port's protocol (Istio's selection: name prefix or appProtocol; unnamed: sniff).
// Every HTTP connection manager proxies WebSocket upgrades, as Istio's do.
// Proxyless gRPC: one API listener "<fqdn>:<port>" per visible service port.
import type { AccessLog, FilterChain, HttpConnectionManager, HttpConnectionManagerAny, Listener } from "../xds/envoy-types.ts";
import { effectiveMtlsMode, type MtlsMode } from "./peer-authentication.ts";
import { istioMutualDownstream } from "./tls.ts";
import { authorizationFilters, networkAuthorizationFilters } from "./authz.ts";
import { jwtAuthnFilter } from "./jwt.ts";
import type { ProxyNode, WorkloadPort } from "../xds/node.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { inboundClusterName } from "./hosts.ts";
import { scopedServices } from "./sidecar-scope.ts";
import { byName, type SharedInput, type ViewInput } from "./input.ts";
import { HTTP_PROXY_ROUTE_NAME, servicePortName } from "./routes.ts";
import { routeConfiguredFilters } from "./route-filters.ts";
import { accessLogsFor, type AccessLogMode } from "./telemetry.ts";
import { statsHttpFilters, statsNetworkFilters } from "./telemetry-metrics.ts";
import { canonicalOf, tracingFor } from "./telemetry-tracing.ts";
import { listenerProtocol, protocolForWorkloadPort, type ListenerProtocol } from "../registry/protocol.ts";
import { BLACKHOLE_CLUSTER, inspectorFields, outboundTcpListeners, tcpProxyFor } from "./tcp-listeners.ts";

export const OUTBOUND_PROXY_PORT = 15001;
const HCM_FILTER = "envoy.filters.network.http_connection_manager";
const ADS = { ads: {}, resource_api_version: "V3" } as const;

/**
 * What LDS reads of a sidecar: its pod IP, where its application listens, its ports, and for
 * access logging its namespace and the labels Telemetry selectors name (telemetryLabelKeys).
 */
export interface SidecarListenerView {
  type: "sidecar";
  ip: string;
  appAddress: string;
  /** Name and transport protocol decide each inbound port's protocol (Istio's POD_PORTS). */
  ports: readonly Pick<WorkloadPort, "containerPort" | "name" | "protocol">[];
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Istio's canonical service and revision (span service name and istio.* tags). */
  canonical?: { service: string; revision: string };
}

/**
 * Exactly the proxy fields LDS reads, per proxy type: a sidecar's addresses and ports (its
 * listeners are its own), a gRPC client's namespace only (clients in one namespace share
 * their API listeners); gateways get nothing yet.
 */
export type ListenerProxyView = SidecarListenerView | Pick<ProxyNode, "namespace"> & { type: "grpc" } | { type: "router" };

/**
 * `labelKeys`: the label keys Telemetry selectors name (telemetryLabelKeys of the same config);
 * `tracing`: some config traces (tracingInUse), so the view carries the canonical service.
 */
export function listenerView(p: ProxyNode, labelKeys: ReadonlySet<string> = new Set(), tracing = false): ListenerProxyView {
  switch (p.type) {
    case "sidecar": {
      const labels: Record<string, string> = {};
      for (const k of [...labelKeys].sort()) if (Object.hasOwn(p.labels, k)) labels[k] = p.labels[k]!;
      const ports = p.ports.map((wp) => ({ containerPort: wp.containerPort, name: wp.name, ...(wp.protocol !== undefined ? { protocol: wp.protocol } : {}) }));
      return { type: "sidecar", ip: p.ip, appAddress: p.appAddress, ports, namespace: p.namespace, labels, ...(tracing ? { canonical: canonicalOf(p.labels, p.name) } : {}) };
    }
    case "grpc":
      return { type: "grpc", namespace: p.namespace };
    default:
      return { type: p.type };
  }
}

/** The whole view as a string: proxies with equal keys get equal listeners. */
export function listenerViewKey(v: ListenerProxyView): string {
  switch (v.type) {
    case "sidecar":
      return JSON.stringify([v.type, v.ip, v.appAddress, v.ports.map((wp) => [wp.containerPort, wp.name, wp.protocol ?? ""]), v.namespace, sortedEntries(v.labels), ...(v.canonical ? [v.canonical.service, v.canonical.revision] : [])]);
    case "grpc":
      return JSON.stringify([v.type, v.namespace]);
    default:
      return JSON.stringify([v.type]);
  }
}

function routerFilter(): HttpConnectionManager["http_filters"][number] {
  return { name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } };
}

function sortedEntries(r: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Access logs per Telemetry + meshConfig (telemetry.ts); CLIENT is outbound, SERVER inbound. */
function accessLog(input: ViewInput<SidecarListenerView>, mode: AccessLogMode): Pick<HttpConnectionManager, "access_log"> {
  const logs: AccessLog[] = accessLogsFor(input, mode);
  return logs.length > 0 ? { access_log: logs } : {};
}

/** Spans per Telemetry tracing + meshConfig providers (telemetry-tracing.ts); CLIENT is outbound, SERVER inbound. */
function tracing(input: ViewInput<SidecarListenerView>, mode: AccessLogMode): Pick<HttpConnectionManager, "tracing"> {
  const t = tracingFor(input, mode);
  return t ? { tracing: t } : {};
}

/** Istio sets this on every HTTP connection manager: WebSocket upgrades are proxied. */
function hcm(fields: HttpConnectionManager): HttpConnectionManagerAny {
  return { "@type": TYPE.hcm, ...fields, upgrade_configs: [{ upgrade_type: "websocket" }] };
}

/** The outbound HTTP connection manager (also the HTTP chain of auto-detected ports' virtual listeners). */
function outboundHttpFilters(input: ViewInput<SidecarListenerView>): FilterChain["filters"] {
  const p = input.proxy;
  return [{
    name: HCM_FILTER,
    typed_config: hcm({
      stat_prefix: `outbound_${p.ip}_${OUTBOUND_PROXY_PORT}`,
      rds: { route_config_name: HTTP_PROXY_ROUTE_NAME, config_source: { ...ADS } },
      // Fault and CORS act only where a route's typed_per_filter_config says so (Istio's order).
      http_filters: [...routeConfiguredFilters(), ...statsHttpFilters(input, "CLIENT"), routerFilter()],
      ...accessLog(input, "CLIENT"),
      ...tracing(input, "CLIENT"),
    }),
  }];
}

function outboundListener(input: ViewInput<SidecarListenerView>): Listener {
  const p = input.proxy;
  return {
    name: HTTP_PROXY_ROUTE_NAME,
    address: { socket_address: { address: p.ip, port_value: OUTBOUND_PROXY_PORT } },
    traffic_direction: "OUTBOUND",
    // A CONNECT tunnel's authority is its original destination: the virtual listener for it serves it.
    use_original_dst: { value: true },
    filter_chains: [{ filters: outboundHttpFilters(input) }],
  };
}

function securityFilters(input: ViewInput<SidecarListenerView>): HttpConnectionManager["http_filters"] {
  const p = input.proxy;
  const workload = { namespace: p.namespace, labels: p.labels };
  const jwt = jwtAuthnFilter(input.objects, workload, { rootNamespace: input.mesh.rootNamespace, jwks: input.jwks ?? (() => undefined) });
  const authz = authorizationFilters(input.objects, workload, { rootNamespace: input.mesh.rootNamespace, trustDomain: input.mesh.trustDomain ?? "cluster.local" });
  return [...(jwt ? [jwt] : []), ...authz];
}

/** One application view of an inbound port: its network filters and, for auto-detection, its ALPN-like match. */
interface InboundApp { suffix: string; applicationProtocols?: string[]; network: FilterChain["filters"] }

/**
 * Filter chains of an inbound port for its PeerAuthentication mode (Istio's shapes): a "tls"
 * chain terminating mesh mTLS and/or a plaintext one, each once per application view (HTTP
 * and TCP for an auto-detected port, HTTP first).
 */
function inboundChains(mode: MtlsMode, apps: readonly InboundApp[]): { chains: FilterChain[]; inspect: boolean } {
  const chain = (name: string, transport: "tls" | "raw_buffer" | undefined, app: InboundApp): FilterChain => {
    const match = { ...(transport ? { transport_protocol: transport } : {}), ...(app.applicationProtocols ? { application_protocols: [...app.applicationProtocols] } : {}) };
    return {
      name: `${name}${app.suffix}`,
      ...(Object.keys(match).length ? { filter_chain_match: match } : {}),
      ...(transport === "tls" ? { transport_socket: istioMutualDownstream() } : {}),
      filters: app.network,
    };
  };
  const tls = apps.map((a) => chain("tls", "tls", a));
  if (mode === "STRICT") return { chains: tls, inspect: true };
  if (mode === "PERMISSIVE") return { chains: [...tls, ...apps.map((a) => chain("plaintext", "raw_buffer", a))], inspect: true };
  return { chains: apps.map((a) => chain("plaintext", undefined, a)), inspect: false };
}

function inboundListener(input: ViewInput<SidecarListenerView>, wp: SidecarListenerView["ports"][number]): Listener {
  const p = input.proxy;
  const port = wp.containerPort;
  const protocol: ListenerProtocol = listenerProtocol(protocolForWorkloadPort(wp));
  const name = `inbound|${port}`;
  const apps: InboundApp[] = [];
  if (protocol !== "tcp") apps.push({ suffix: protocol === "auto" ? "|http" : "", ...(protocol === "auto" ? { applicationProtocols: ["http/1.1", "h2c"] } : {}), network: inboundHttpFilters(input, port) });
  if (protocol !== "http") apps.push({ suffix: protocol === "auto" ? "|tcp" : "", network: inboundTcpFilters(input, port) });
  const mode = effectiveMtlsMode(input.objects, p, port, input.mesh.rootNamespace);
  const { chains, inspect } = inboundChains(mode, apps);
  return {
    name,
    address: { socket_address: { address: p.ip, port_value: port } },
    traffic_direction: "INBOUND",
    ...inspectorFields(inspect, protocol === "auto"),
    filter_chains: chains,
  };
}

/** An inbound TCP port: AuthorizationPolicy as network RBAC (checked per connection), then bytes to the application. */
function inboundTcpFilters(input: ViewInput<SidecarListenerView>, port: number): FilterChain["filters"] {
  const p = input.proxy;
  const workload = { namespace: p.namespace, labels: p.labels };
  const rbac = networkAuthorizationFilters(input.objects, workload, { rootNamespace: input.mesh.rootNamespace, trustDomain: input.mesh.trustDomain ?? "cluster.local" });
  const logs = accessLogsFor(input, "SERVER");
  return [...rbac, ...statsNetworkFilters(input, "SERVER"), tcpProxyFor(inboundClusterName(port), { cluster: inboundClusterName(port) }, logs)];
}

function inboundHttpFilters(input: ViewInput<SidecarListenerView>, port: number): FilterChain["filters"] {
  const p = input.proxy;
  const name = `inbound|${port}`;
  return [{
    name: HCM_FILTER,
    typed_config: hcm({
      stat_prefix: `inbound_${p.ip}_${port}`,
      route_config: {
        name,
        virtual_hosts: [{
          name: `inbound|http|${port}`,
          domains: ["*"],
          routes: [{ name: "default", match: { prefix: "/" }, route: { cluster: inboundClusterName(port), timeout: { seconds: 0 } } }],
        }],
        validate_clusters: { value: false },
      },
      // Istio's inbound order: JWT authentication, then authorization, then the router.
      http_filters: [...securityFilters(input), ...statsHttpFilters(input, "SERVER"), routerFilter()],
      ...accessLog(input, "SERVER"),
      ...tracing(input, "SERVER"),
    }),
  }];
}

function sidecarListeners(input: ViewInput<SidecarListenerView>): Listener[] {
  const out = [outboundListener(input), ...outboundTcpListeners(input, { httpFilters: () => outboundHttpFilters(input), accessLog: accessLogsFor(input, "CLIENT"), statsFilters: statsNetworkFilters(input, "CLIENT") })];
  const seen = new Set<number>([OUTBOUND_PROXY_PORT]);
  if (!input.proxy.appAddress) return out;
  for (const wp of input.proxy.ports) {
    if (seen.has(wp.containerPort)) continue; // one listener per address:port
    seen.add(wp.containerPort);
    out.push(inboundListener(input, wp));
  }
  return out;
}

function grpcListeners(input: SharedInput, namespace: string): Listener[] {
  const out: Listener[] = [];
  for (const s of scopedServices({ ...input, proxy: { namespace } })) {
    for (const port of s.ports) {
      const name = servicePortName(s, port.number);
      out.push({
        name,
        api_listener: {
          api_listener: hcm({
            stat_prefix: name,
            rds: { route_config_name: name, config_source: { ...ADS } },
            http_filters: [routerFilter()], // gRPC requires the router to be last
          }),
        },
      });
    }
  }
  return out;
}

export function translateListeners(input: ViewInput<ListenerProxyView>): Listener[] {
  const p = input.proxy;
  switch (p.type) {
    case "sidecar":
      return sidecarListeners({ ...input, proxy: p }).sort(byName);
    case "grpc":
      return grpcListeners(input, p.namespace).sort(byName);
    default:
      return [];
  }
}
