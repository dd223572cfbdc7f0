// The compiled, immutable form of the xDS resources the proxy serves from. Built by the
// compile-*.ts files, assembled by snapshot.ts, read by listen/, http/ and upstream/.
import type { IncomingHttpHeaders } from "node:http";
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from "../../xds/envoy-types.ts";
import type { HcmFilters, RouteFilterConfigs } from "../http/filters/http-filters.ts";
import type { CompiledAccessLog } from "../http/access-log.ts";
import type { CompiledDownstreamTls, CompiledUpstreamTls } from "../tls/compile-transport.ts";
import type { CompiledTracing } from "../telemetry/tracing/compile-tracing.ts";
import type { CompiledStatsConfig } from "../telemetry/stats-config.ts";
import type { CompiledRbac } from "../http/filters/rbac.ts";

/** What route matching looks at, computed once per request. */
export interface MatchInput {
  method: string;
  /** Authority as sent (host or host:port), original case. */
  authority: string;
  /** Path without the query string. */
  path: string;
  /** Query string without "?", "" when none. */
  query: string;
  headers: IncomingHttpHeaders;
  /** Parsed lazily by the first query-parameter matcher that needs it. */
  queryParams: URLSearchParams | undefined;
}

export type AppendAction = "APPEND_IF_EXISTS_OR_ADD" | "ADD_IF_ABSENT" | "OVERWRITE_IF_EXISTS_OR_ADD" | "OVERWRITE_IF_EXISTS";
export interface HeaderAdd { key: string; value: string; action: AppendAction }
/** Header mutations of a route (or a weighted cluster); undefined when there are none. */
export interface HeaderOps { add: HeaderAdd[]; remove: string[] }

export const RETRY = {
  fiveXx: 1,
  gatewayError: 2,
  connectFailure: 4,
  refusedStream: 8,
  reset: 16,
  retriableStatusCodes: 32,
  grpc: 64,
  /** Envoy's retriable-4xx: only 409 Conflict. */
  retriable4xx: 128,
} as const;

export interface CompiledRetryPolicy {
  /** Bit set of RETRY flags. */
  on: number;
  numRetries: number;
  /** 0 = none. */
  perTryTimeoutMs: number;
  retriableStatusCodes: ReadonlySet<number>;
  /** grpc-status values (as strings, as they arrive in headers) that are retried. */
  grpcStatuses: ReadonlySet<string>;
  /** previous_hosts predicate: try another endpoint when one exists. */
  avoidPreviousHosts: boolean;
  hostSelectionMaxAttempts: number;
  /** retryRemoteLocalities: retries may leave the first priority (locality) level. */
  otherPriorities: boolean;
}

export interface ClusterChoice { cluster: string; weight: number; requestHeaders: HeaderOps | undefined }

export interface RouteForward {
  kind: "route";
  /** One entry for a plain cluster; several for weighted_clusters. */
  clusters: ClusterChoice[];
  totalWeight: number;
  /** 0 = no timeout. */
  timeoutMs: number;
  retry: CompiledRetryPolicy | undefined;
  /** Rewrites the path (without query); undefined when the route does not rewrite. */
  rewritePath: ((path: string) => string) | undefined;
  hostRewrite: string | undefined;
  /** request_mirror_policies: shadow copies, each sent with probability `fraction`; [] when none. */
  mirrors: readonly CompiledMirror[];
  /** hash_policy, in order: the request's hash for RING_HASH and MAGLEV clusters; undefined when none. */
  hashPolicies?: readonly CompiledHashPolicy[];
}
/** Where one hash_policy entry takes its key from. */
export type HashSource =
  | { kind: "header"; name: string }
  | { kind: "cookie"; name: string; path: string; /** undefined: never set by the proxy; 0: a session cookie. */ ttlSeconds: number | undefined }
  | { kind: "source_ip" }
  | { kind: "query_parameter"; name: string };
/** One entry of a route's hash_policy; `terminal` stops the list once some hash exists. */
export interface CompiledHashPolicy { source: HashSource; terminal: boolean }
export interface CompiledMirror { cluster: string; fraction: number }
export interface RouteRedirect { kind: "redirect"; status: number; location: (input: MatchInput) => string }
export interface RouteDirect { kind: "direct"; status: number; body: Buffer }
export type RouteAction = RouteForward | RouteRedirect | RouteDirect;

export interface CompiledRoute {
  /** Route name, "-" when unnamed (for access logs). */
  name: string;
  matches: (input: MatchInput) => boolean;
  action: RouteAction;
  requestHeaders: HeaderOps | undefined;
  responseHeaders: HeaderOps | undefined;
  /** Fault and CORS per-route configs (typed_per_filter_config, over the virtual host's). */
  filters: RouteFilterConfigs;
}

export interface CompiledVirtualHost { name: string; routes: CompiledRoute[] }

export interface CompiledRouteTable {
  name: string;
  /** Envoy's domain search: exact, suffix wildcards, prefix wildcards, then "*". */
  findVirtualHost(authority: string): CompiledVirtualHost | undefined;
  virtualHostCount: number;
}

/** The stdout loggers of a connection manager (absent when it has none). */
export interface AccessLogConfig { loggers: readonly CompiledAccessLog[] }

export interface CompiledHcm {
  statPrefix: string;
  /** Inline route table, or the RDS name to resolve from the snapshot. */
  inlineRoutes: CompiledRouteTable | undefined;
  rdsName: string | undefined;
  /** Resolved at snapshot assembly; undefined while the RDS resource has not arrived. */
  routes: CompiledRouteTable | undefined;
  generateRequestId: boolean;
  accessLog: AccessLogConfig | undefined;
  maxHeadersCount: number;
  /** 0 = none. */
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** Which of the fault and CORS filters run on this connection manager. */
  filters: HcmFilters;
  /** upgrade_configs: Upgrade types (lower case) proxied as upgrades; others get 403 upgrade_failed. Absent = none. */
  upgradeTypes?: ReadonlySet<string>;
  /** HttpConnectionManager.tracing: spans for this connection manager's requests. Absent = none. */
  tracing?: CompiledTracing;
}

/** tcp_proxy: each downstream connection gets its own upstream connection to one endpoint. */
export interface CompiledTcpProxy {
  statPrefix: string;
  /** One entry for `cluster`; several for weighted_clusters. */
  clusters: readonly { cluster: string; weight: number }[];
  totalWeight: number;
  /** No bytes either way for this long closes both sides; 0 = never. */
  idleTimeoutMs: number;
  accessLog: AccessLogConfig | undefined;
  /** max_connect_attempts (Envoy's default 1). */
  maxConnectAttempts: number;
  /** The chain's istio.stats network filter: Telemetry metric overrides for TCP; absent = Istio's defaults. */
  stats?: CompiledStatsConfig;
  /** The chain's network RBAC filters (AuthorizationPolicy), in order; absent = every connection allowed. */
  rbac?: readonly CompiledRbac[];
}

export interface CompiledFilterChain {
  name: string;
  destinationPort: number | undefined;
  /** undefined when the chain holds no HTTP connection manager we can run. */
  hcm: CompiledHcm | undefined;
  unsupportedReason: string | undefined;
  /** filter_chain_match.transport_protocol: "tls", "raw_buffer", or undefined for any. */
  transportProtocol: "tls" | "raw_buffer" | undefined;
  /** The chain terminates TLS (mesh mTLS on an inbound port). */
  tls: CompiledDownstreamTls | undefined;
  /** The chain's terminal filter is a tcp_proxy (then hcm is undefined). */
  tcpProxy?: CompiledTcpProxy;
  /** filter_chain_match.server_names (lower case; "*.x" wildcards); absent or empty = any. */
  serverNames?: readonly string[];
  /** filter_chain_match.application_protocols ("http/1.1", "h2c", ...); absent or empty = any. */
  applicationProtocols?: readonly string[];
}

export interface CompiledListener {
  name: string;
  host: string;
  port: number;
  inbound: boolean;
  filterChains: CompiledFilterChain[];
  /** Connections are told apart by their first bytes (TLS or plaintext) before a chain is chosen. */
  inspectTls: boolean;
  /** Identity of the bind: listeners with the same key keep their socket across updates. */
  bindKey: string;
  /** bind_to_port false: never bound; reached through a use_original_dst listener (CONNECT). Absent = true. */
  bindToPort?: boolean;
  /** use_original_dst: connections (CONNECT tunnels) for another listener's address are handed to it. */
  useOriginalDst?: boolean;
  /** Some chain needs the first bytes (server names, application protocols) or is not HTTP: pick the chain per connection. */
  chainPerConnection?: boolean;
  /** http_inspector: the first bytes say whether the connection speaks HTTP ("http/1.1", "h2c"). */
  inspectHttp?: boolean;
  /** listener_filters_timeout (ms, 0 = wait forever) and what to do when it passes. */
  listenerFiltersTimeoutMs?: number;
  continueOnListenerFiltersTimeout?: boolean;
}

export interface EndpointAddress {
  host: string;
  port: number;
  /** "host:port", also the key of per-host runtime stats. */
  key: string;
  healthy: boolean;
  healthStatus: string;
  weight: number;
  /** filter_metadata["envoy.transport_socket_match"] (e.g. tlsMode: istio); undefined when absent. */
  socketMatch: Readonly<Record<string, string>> | undefined;
  /** TLS towards this endpoint, resolved from the cluster's transport socket(s); undefined = plaintext. */
  tls: CompiledUpstreamTls | undefined;
  /** LocalityLbEndpoints.priority (0 = highest); absent means 0. */
  priority?: number;
  /** "region/zone/sub_zone" of its LocalityLbEndpoints; absent or "" when none. */
  locality?: string;
  /** LocalityLbEndpoints.load_balancing_weight; absent = none (no load under locality-weighted balancing). */
  localityWeight?: number;
}

/** A cluster's transport sockets: one for every endpoint, or the first match by endpoint metadata. */
export interface ClusterTls {
  always: CompiledUpstreamTls | undefined;
  matches: readonly { match: Readonly<Record<string, string>>; tls: CompiledUpstreamTls | undefined }[];
}

export interface CompiledCluster {
  name: string;
  type: "STATIC" | "STRICT_DNS" | "LOGICAL_DNS" | "EDS" | "ORIGINAL_DST";
  /** EDS service name (cluster name when eds_cluster_config.service_name is empty). */
  edsName: string | undefined;
  connectTimeoutMs: number;
  /** Static/DNS clusters: from load_assignment; EDS: filled at snapshot assembly. */
  endpoints: EndpointAddress[];
  healthyEndpoints: EndpointAddress[];
  /** 0 = no limit. */
  maxRequestsPerConnection: number;
  lbPolicy: LbPolicy;
  /** undefined when every threshold is unlimited (Istio's default): nothing is checked per request. */
  circuitBreakers: CircuitBreakerLimits | undefined;
  outlierDetection: OutlierDetectionConfig | undefined;
  /** Upstream connections idle this long are closed; 0 = keep the pool's default. */
  idleTimeoutMs: number;
  /** filter_metadata.istio.services[0]: the destination_service of Istio's metrics; undefined when absent. */
  istioService: { host: string; name: string; namespace: string } | undefined;
  /** Upstream protocol from HttpProtocolOptions: true = HTTP/2, false = HTTP/1.1, undefined = not said (gRPC requests then use HTTP/2). */
  http2: boolean | undefined;
  /** undefined: plaintext to every endpoint. */
  tls: ClusterTls | undefined;
  /** Ring hash, Maglev and locality-weighted settings; absent = Envoy's defaults. */
  lbConfig?: LbConfig;
  /** STRICT_DNS only: how the endpoints' host names are resolved again (see upstream/strict-dns.ts). */
  dnsRefresh?: DnsRefreshConfig;
}

/** dns_refresh_rate (Envoy's default 5 s) and respect_dns_ttl of a STRICT_DNS cluster. */
export interface DnsRefreshConfig {
  refreshMs: number;
  respectTtl: boolean;
}

export type LbPolicy = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "RING_HASH" | "MAGLEV";

/** The balancer settings besides the policy, Envoy's defaults filled in. */
export interface LbConfig {
  /** ring_hash_lb_config: entries on the ring (Envoy: 1024 and 8M). */
  minRingSize: number;
  maxRingSize: number;
  /** maglev_lb_config.table_size: a prime (Envoy: 65537). */
  tableSize: number;
  /** common_lb_config.locality_weighted_lb_config: localities share a priority's load by their weights. */
  localityWeighted: boolean;
  /** Equal settings give equal keys (a balancer is rebuilt when the key changes). */
  key: string;
}

/** Circuit breaker thresholds of the DEFAULT priority; Infinity = unlimited. */
export interface CircuitBreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

/** Consecutive-error outlier detection; a threshold of 0 turns that detector off. */
export interface OutlierDetectionConfig {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  /** Equal configs give equal keys: a runtime keeps its host state while the key stays. */
  key: string;
}

export interface Received<T> { name: string; resource: T; version: string; lastUpdated: Date }

export interface Snapshot {
  /** Monotonic counter, handy in logs and tests. */
  generation: number;
  listeners: ReadonlyMap<string, CompiledListener>;
  clusters: ReadonlyMap<string, CompiledCluster>;
  routeTables: ReadonlyMap<string, CompiledRouteTable>;
  /** RDS names referenced by listeners but not received yet, EDS names likewise. */
  missingRoutes: string[];
  missingEndpoints: string[];
  raw: {
    listeners: ReadonlyMap<string, Received<Listener>>;
    routes: ReadonlyMap<string, Received<RouteConfiguration>>;
    clusters: ReadonlyMap<string, Received<Cluster>>;
    endpoints: ReadonlyMap<string, Received<ClusterLoadAssignment>>;
  };
}
