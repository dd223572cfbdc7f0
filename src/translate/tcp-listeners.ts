// The sidecar's TCP side. Outbound: one virtual listener per service port number that is not
// plain HTTP (TCP, TLS/HTTPS, or unnamed and so auto-detected), named as Istio names its
// outbound listeners ("0.0.0.0_<port>"), never bound (bind_to_port false): the explicit
// proxy on podIP:15001 (use_original_dst) hands it the CONNECT tunnels for that port, and a
// chain is picked by server name (the TLS SNI, else the tunnel's host):
//   TCP port     -> chain { server_names: the service's names } -> tcp_proxy (tcp routes)
//   TLS / HTTPS  -> chain { server_names: sniHosts, transport "tls" } -> tcp_proxy (tls routes)
//   auto-detect  -> chain { names, application_protocols [http/1.1, h2c] } -> the HTTP route
//                   table; chain { names } -> tcp_proxy, after http_inspector's bounded wait.
// Inbound: the network filters of a TCP port (tcp_proxy to the application).
import type { AccessLog, FilterChain, Listener, NetworkFilter, TcpProxy } from "../xds/envoy-types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import type { Service } from "../registry/types.ts";
import { listenerProtocol } from "../registry/protocol.ts";
import { outboundClusterName } from "./hosts.ts";
import { scopedServices } from "./sidecar-scope.ts";
import type { ViewInput } from "./input.ts";
import { tcpTarget, type TcpRouteProxyView, type TcpTarget } from "./tcp-routes.ts";
import { tlsPlans } from "./tls-routes.ts";

const TCP_PROXY_FILTER = "envoy.filters.network.tcp_proxy";
/**
 * Istio's meshConfig.protocolDetectionTimeout (its long-standing default, 100 ms): how long an
 * auto-detected port waits for a client's first bytes before treating the connection as TCP.
 */
export const PROTOCOL_DETECTION_TIMEOUT = { seconds: 0, nanos: 100_000_000 } as const;
/** Istio's cluster for connections that must go nowhere (tcp_proxy to it is refused: NC). */
export { BLACKHOLE_CLUSTER } from "./passthrough-clusters.ts";
const HTTP_APPLICATION_PROTOCOLS = ["http/1.1", "h2c"];

/**
 * A tcp_proxy as a network filter. NetworkFilter's type names only the HTTP connection
 * manager (widening it would break every reader of HCM fields); on the wire both are an Any.
 */
export function tcpProxyFilter(fields: TcpProxy): NetworkFilter {
  return { name: TCP_PROXY_FILTER, typed_config: { "@type": TYPE.tcpProxy, ...fields } as unknown as NetworkFilter["typed_config"] };
}

export function tcpProxyFor(statPrefix: string, target: TcpTarget, accessLog: readonly AccessLog[]): NetworkFilter {
  return tcpProxyFilter({ stat_prefix: statPrefix, ...target, ...(accessLog.length ? { access_log: [...accessLog] } : {}) });
}

/**
 * tls_inspector / http_inspector. Protocol detection (http) waits Istio's detection timeout
 * and then goes on as TCP; a TLS-only inspection keeps Envoy's defaults (a TLS client speaks first).
 */
export function inspectorFields(tls: boolean, http: boolean): Pick<Listener, "listener_filters" | "listener_filters_timeout" | "continue_on_listener_filters_timeout"> {
  const filters: NonNullable<Listener["listener_filters"]> = [];
  if (tls) filters.push({ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } });
  if (http) filters.push({ name: "envoy.filters.listener.http_inspector", typed_config: { "@type": TYPE.httpInspector } });
  if (filters.length === 0) return {};
  if (!http) return { listener_filters: filters };
  return { listener_filters: filters, listener_filters_timeout: { ...PROTOCOL_DETECTION_TIMEOUT }, continue_on_listener_filters_timeout: true };
}

/** Names a client may use for a service (FQDN, aliases with a dot, bare names in its own namespace). */
export function clientNames(s: Service, proxyNamespace: string): string[] {
  const names = [s.hostname];
  for (const a of s.aliases) if (a.includes(".") || s.namespace === proxyNamespace) names.push(a);
  return [...new Set(names.map((n) => n.toLowerCase()))];
}

export interface OutboundTcpOptions {
  /** The network filters of the HTTP chain of auto-detected ports (the outbound HTTP connection manager). */
  httpFilters: () => FilterChain["filters"];
  /** Outbound (CLIENT) access logs for tcp_proxy. */
  accessLog: readonly AccessLog[];
  /** Network filters before each tcp_proxy (Istio's istio.stats, see telemetry-metrics.ts). */
  statsFilters?: readonly NetworkFilter[];
}

interface PortChains {
  chains: FilterChain[];
  used: Set<string>;
  tls: boolean;
  http: boolean;
}

/** Server names not yet taken by an equal match in this listener (Envoy refuses duplicates). */
function fresh(p: PortChains, key: string, names: readonly string[]): string[] {
  const out = names.filter((n) => !p.used.has(`${key}|${n}`));
  for (const n of out) p.used.add(`${key}|${n}`);
  return out;
}

/** Istio's stat prefix for a tcp_proxy: its cluster; with weighted clusters, the service port's. */
function statPrefixOf(target: TcpTarget, s: Service, port: number): string {
  return target.cluster ?? outboundClusterName(port, "", s.hostname);
}

function addServicePort(p: PortChains, input: ViewInput<TcpRouteProxyView>, s: Service, port: number, kind: "tcp" | "tls" | "auto", opts: OutboundTcpOptions): void {
  const names = clientNames(s, input.proxy.namespace);
  if (kind === "tls") {
    for (const plan of tlsPlans(input, s, port, names)) {
      const serverNames = fresh(p, "tls", plan.serverNames);
      if (serverNames.length === 0) continue;
      p.tls = true;
      p.chains.push({ name: `${s.hostname}:${port}|sni`, filter_chain_match: { server_names: serverNames, transport_protocol: "tls" }, filters: [...(opts.statsFilters ?? []), tcpProxyFor(statPrefixOf(plan.target, s, port), plan.target, opts.accessLog)] });
    }
    return;
  }
  const serverNames = fresh(p, kind, names);
  if (serverNames.length === 0) return;
  if (kind === "auto") {
    p.http = true;
    p.chains.push({ name: `${s.hostname}:${port}|http`, filter_chain_match: { server_names: serverNames, application_protocols: [...HTTP_APPLICATION_PROTOCOLS] }, filters: opts.httpFilters() });
  }
  const target = tcpTarget(input, s, port);
  p.chains.push({ name: `${s.hostname}:${port}|tcp`, filter_chain_match: { server_names: serverNames }, filters: [...(opts.statsFilters ?? []), tcpProxyFor(statPrefixOf(target, s, port), target, opts.accessLog)] });
}

/** The virtual outbound listeners of a sidecar, by port number. */
export function outboundTcpListeners(input: ViewInput<TcpRouteProxyView>, opts: OutboundTcpOptions): Listener[] {
  const byPort = new Map<number, PortChains>();
  // The same services the proxy's clusters are made for (the Sidecar kind's egress scope).
  for (const s of scopedServices({ ...input, proxy: { namespace: input.proxy.namespace, ...("labels" in input.proxy ? { labels: input.proxy.labels as Record<string, string> } : {}) } })) {
    for (const port of s.ports) {
      const lp = listenerProtocol(port.protocol);
      if (lp === "http") continue; // HTTP service ports are routed by the http_proxy route table
      const kind = lp === "auto" ? "auto" : port.protocol === "TLS" || port.protocol === "HTTPS" ? "tls" : "tcp";
      let p = byPort.get(port.number);
      if (!p) byPort.set(port.number, (p = { chains: [], used: new Set(), tls: false, http: false }));
      addServicePort(p, input, s, port.number, kind, opts);
    }
  }
  const out: Listener[] = [];
  for (const [port, p] of [...byPort].sort(([a], [b]) => a - b)) {
    if (p.chains.length === 0) continue;
    out.push({
      name: `0.0.0.0_${port}`,
      address: { socket_address: { address: "0.0.0.0", port_value: port } },
      bind_to_port: { value: false },
      traffic_direction: "OUTBOUND",
      ...inspectorFields(p.tls, p.http),
      filter_chains: p.chains,
    });
  }
  return out;
}
