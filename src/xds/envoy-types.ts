// The subset of Envoy v3 resources Mizzen produces and consumes, in the object form that
// protobufjs gives with { keepCase: true, json: true, enums: String, longs: Number }:
// proto field names in snake_case, enums as strings, google.protobuf.Any as
// { "@type": typeUrl, ...fields }, wrappers as { value }, Duration as { seconds, nanos }.
// Translators build these; the xDS layer encodes them; the proxy compiles them.
// Field meanings are Envoy's: see envoy/config/**/v3/*.proto.

export const TYPE = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  upstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  downstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  rawBuffer: "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
  tlsInspector: "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
  hcm: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  fileAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
  tcpProxy: "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  httpInspector: "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
  openTelemetryTracer: "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
  zipkinTracer: "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
} as const;

export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];

export interface Duration { seconds?: number; nanos?: number }
export interface UInt32Value { value: number }
export interface BoolValue { value: boolean }

export interface SocketAddress { address: string; port_value: number; protocol?: "TCP" | "UDP" }
export interface Address { socket_address: SocketAddress }

/** google.protobuf.Struct as protobufjs renders it; see xds/struct.ts to convert. */
export interface Struct { fields?: Record<string, StructValue> }
export interface StructValue {
  null_value?: "NULL_VALUE";
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: Struct;
  list_value?: { values?: StructValue[] };
}
export interface Metadata { filter_metadata?: Record<string, Struct> }

export interface ConfigSource {
  ads?: Record<string, never>;
  resource_api_version?: "V3";
  /** Istio's SDS source: a gRPC API config source naming the "sds-grpc" cluster (its agent). */
  api_config_source?: { api_type: "GRPC"; transport_api_version?: "V3"; set_node_on_first_message_only?: boolean; grpc_services: { envoy_grpc: { cluster_name: string } }[] };
  initial_fetch_timeout?: Duration;
}

// ---- TLS transport sockets ----
/** envoy.config.core.v3.TransportSocket: "envoy.transport_sockets.tls" or "envoy.transport_sockets.raw_buffer". */
export interface TransportSocket {
  name: string;
  typed_config?: ({ "@type": typeof TYPE.upstreamTls } & UpstreamTlsContext) | ({ "@type": typeof TYPE.downstreamTls } & DownstreamTlsContext) | { "@type": typeof TYPE.rawBuffer };
}
export interface SdsSecretConfig { name: string; sds_config?: ConfigSource }
export interface DataSource { filename?: string; inline_string?: string; inline_bytes?: string }
export interface StringMatcherLite { exact?: string; prefix?: string; suffix?: string; contains?: string; ignore_case?: boolean }
export interface CertificateValidationContext {
  trusted_ca?: DataSource;
  match_subject_alt_names?: StringMatcherLite[];
  /** envoy.type.matcher.v3.SubjectAltNameMatcher: san_type URI / DNS / ... with a matcher. */
  match_typed_subject_alt_names?: { san_type: "EMAIL" | "DNS" | "URI" | "IP_ADDRESS" | "OTHER_NAME"; matcher: StringMatcherLite }[];
}
export interface CommonTlsContext {
  tls_params?: { tls_minimum_protocol_version?: "TLS_AUTO" | "TLSv1_0" | "TLSv1_1" | "TLSv1_2" | "TLSv1_3"; tls_maximum_protocol_version?: "TLS_AUTO" | "TLSv1_0" | "TLSv1_1" | "TLSv1_2" | "TLSv1_3" };
  tls_certificates?: { certificate_chain?: DataSource; private_key?: DataSource }[];
  tls_certificate_sds_secret_configs?: SdsSecretConfig[];
  validation_context?: CertificateValidationContext;
  validation_context_sds_secret_config?: SdsSecretConfig;
  combined_validation_context?: { default_validation_context: CertificateValidationContext; validation_context_sds_secret_config: SdsSecretConfig };
  alpn_protocols?: string[];
}
export interface UpstreamTlsContext { common_tls_context?: CommonTlsContext; sni?: string }
export interface DownstreamTlsContext { common_tls_context?: CommonTlsContext; require_client_certificate?: BoolValue }

// ---- Listener (LDS) ----
export interface Listener {
  name: string;
  address?: Address;
  filter_chains?: FilterChain[];
  /** "INBOUND" | "OUTBOUND" */
  traffic_direction?: "UNSPECIFIED" | "INBOUND" | "OUTBOUND";
  /** Proxyless gRPC clients get an api_listener instead of an address. */
  api_listener?: { api_listener: HttpConnectionManagerAny };
  use_original_dst?: BoolValue;
  metadata?: Metadata;
  /** tls_inspector: lets filter chains match transport_protocol "tls" vs "raw_buffer" (PERMISSIVE mTLS); http_inspector: application_protocols. */
  listener_filters?: { name: string; typed_config?: { "@type": string } }[];
  /** false: a virtual listener, never bound; the outbound proxy hands it connections for its address (Istio's outbound listeners under use_original_dst). */
  bind_to_port?: BoolValue;
  /** How long listener filters (protocol sniffing) may wait for the first bytes. */
  listener_filters_timeout?: Duration;
  /** After listener_filters_timeout, pick a chain with what was learnt (server-first protocols) instead of closing. */
  continue_on_listener_filters_timeout?: boolean;
}
export interface FilterChain {
  name?: string;
  filter_chain_match?: { destination_port?: UInt32Value; server_names?: string[]; transport_protocol?: string; application_protocols?: string[] };
  filters: NetworkFilter[];
  transport_socket?: TransportSocket;
}
export interface NetworkFilter { name: string; typed_config: HttpConnectionManagerAny }

/** envoy.filters.network.tcp_proxy. (A NetworkFilter's typed_config names only the HCM; see tcpProxyFilter in translate/tcp-listeners.ts.) */
export type TcpProxyAny = { "@type": typeof TYPE.tcpProxy } & TcpProxy;
export interface TcpProxy {
  stat_prefix: string;
  cluster?: string;
  weighted_clusters?: { clusters: { name: string; weight: number }[] };
  idle_timeout?: Duration;
  access_log?: AccessLog[];
  max_connect_attempts?: UInt32Value;
}

export type HttpConnectionManagerAny = { "@type": typeof TYPE.hcm } & HttpConnectionManager;
export interface HttpConnectionManager {
  stat_prefix: string;
  codec_type?: "AUTO" | "HTTP1" | "HTTP2";
  rds?: { route_config_name: string; config_source: ConfigSource };
  route_config?: RouteConfiguration;
  http_filters: { name: string; typed_config: { "@type": string } & Record<string, unknown> }[];
  access_log?: AccessLog[];
  /** Generate x-request-id when absent (Envoy default true). */
  generate_request_id?: BoolValue;
  use_remote_address?: BoolValue;
  xff_num_trusted_hops?: number;
  stream_idle_timeout?: Duration;
  request_timeout?: Duration;
  common_http_protocol_options?: { idle_timeout?: Duration; max_headers_count?: UInt32Value };
  /** HTTP/1.1 Upgrade types proxied as such (Istio sets websocket on every HCM); others get 403 upgrade_failed. */
  upgrade_configs?: { upgrade_type: string; enabled?: BoolValue }[];
  /** Spans for the requests of this connection manager (see HcmTracing). */
  tracing?: HcmTracing;
}

// ---- Tracing (HttpConnectionManager.Tracing and the two providers Mizzen emits) ----
/** envoy.type.v3.Percent: 0.0 - 100.0. */
export interface Percent { value: number }
/** HttpConnectionManager.Tracing. Envoy's defaults: every sampling 100 %, max_path_tag_length 256. */
export interface HcmTracing {
  client_sampling?: Percent;
  random_sampling?: Percent;
  overall_sampling?: Percent;
  verbose?: boolean;
  max_path_tag_length?: UInt32Value;
  custom_tags?: CustomTag[];
  provider?: { name: string; typed_config?: OpenTelemetryConfigAny | ZipkinConfigAny | ({ "@type": string } & Record<string, unknown>) };
  spawn_upstream_span?: BoolValue;
}
/** envoy.type.tracing.v3.CustomTag: one of literal, environment, request_header, metadata. */
export interface CustomTag {
  tag: string;
  literal?: { value: string };
  environment?: { name: string; default_value?: string };
  request_header?: { name: string; default_value?: string };
  metadata?: { kind?: Record<string, unknown>; metadata_key?: { key: string; path?: { key: string }[] }; default_value?: string };
}
/** envoy.config.core.v3.HttpService: where an exporter POSTs (uri host+path, cluster, timeout). */
export interface HttpService {
  http_uri: { uri: string; cluster: string; timeout: Duration };
  request_headers_to_add?: HeaderValueOption[];
}
/** envoy.config.core.v3.GrpcService with Envoy's own gRPC client (the only kind Mizzen writes). */
export interface GrpcService {
  envoy_grpc: { cluster_name: string; authority?: string };
  timeout?: Duration;
  initial_metadata?: { key: string; value: string }[];
}
export type OpenTelemetryConfigAny = { "@type": typeof TYPE.openTelemetryTracer } & OpenTelemetryConfig;
/** envoy.config.trace.v3.OpenTelemetryConfig (OTLP over HTTP: http_service; over gRPC: grpc_service). */
export interface OpenTelemetryConfig {
  http_service?: HttpService;
  grpc_service?: GrpcService;
  service_name?: string;
}
export type ZipkinConfigAny = { "@type": typeof TYPE.zipkinTracer } & ZipkinConfig;
/** envoy.config.trace.v3.ZipkinConfig (Mizzen emits HTTP_JSON: Zipkin's JSON v2). */
export interface ZipkinConfig {
  collector_cluster: string;
  collector_endpoint: string;
  trace_id_128bit?: boolean;
  shared_span_context?: BoolValue;
  collector_endpoint_version?: "HTTP_JSON" | "HTTP_PROTO" | "GRPC";
  collector_hostname?: string;
}

/** envoy.config.accesslog.v3.AccessLog: a logger (typed_config) and when it writes (filter). */
export interface AccessLog {
  name: string;
  filter?: AccessLogFilter;
  typed_config?: FileAccessLogAny | ({ "@type": string } & Record<string, unknown>);
}
export type FileAccessLogAny = { "@type": typeof TYPE.fileAccessLog } & FileAccessLog;
/** envoy.extensions.access_loggers.file.v3.FileAccessLog (log_format: the v3 way to set a format). */
export interface FileAccessLog {
  path: string;
  log_format?: { text_format_source?: { inline_string: string }; json_format?: Struct; omit_empty_values?: boolean };
}
/** The subset of Envoy's AccessLogFilter Mizzen emits and its proxy evaluates. */
export interface AccessLogFilter {
  status_code_filter?: { comparison: { op?: "EQ" | "GE" | "LE"; value: { default_value?: number; runtime_key: string } } };
  response_flag_filter?: { flags?: string[] };
  header_filter?: { header: HeaderMatcher };
  and_filter?: { filters: AccessLogFilter[] };
  or_filter?: { filters: AccessLogFilter[] };
}

// ---- RouteConfiguration (RDS) ----
export interface RouteConfiguration {
  name: string;
  virtual_hosts: VirtualHost[];
  validate_clusters?: BoolValue;
}
export interface VirtualHost {
  name: string;
  /** Host or host:port; a leading or trailing "*" is a wildcard, "*" alone matches all. */
  domains: string[];
  routes: Route[];
  retry_policy?: RetryPolicy;
  /** Per-filter config keyed by HTTP filter name (e.g. "envoy.filters.http.fault"). */
  typed_per_filter_config?: Record<string, { "@type": string } & Record<string, unknown>>;
}
export interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex: string };
  ignore_case?: boolean;
}
export interface HeaderMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
  invert_match?: boolean;
  /** A missing header is matched as "" (Istio sets it on withoutHeaders string matches). */
  treat_missing_header_as_empty?: boolean;
}
export interface QueryParameterMatcher { name: string; string_match?: StringMatcher; present_match?: boolean }
export interface RouteMatch {
  prefix?: string;
  path?: string;
  safe_regex?: { regex: string };
  case_sensitive?: BoolValue;
  headers?: HeaderMatcher[];
  query_parameters?: QueryParameterMatcher[];
}
export interface RetryPolicy {
  /** Comma-separated Envoy conditions, e.g. "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes". */
  retry_on?: string;
  num_retries?: UInt32Value;
  per_try_timeout?: Duration;
  retriable_status_codes?: number[];
  retry_host_predicate?: { name: string }[];
  host_selection_retry_max_attempts?: number;
  /** Istio's retryRemoteLocalities: envoy.retry_priorities.previous_priorities (retries prefer other priorities). */
  retry_priority?: { name: string; typed_config?: { "@type": string; update_frequency?: number } };
}
export interface WeightedCluster { name: string; weight: UInt32Value; request_headers_to_add?: HeaderValueOption[] }
export interface RouteAction {
  cluster?: string;
  weighted_clusters?: { clusters: WeightedCluster[] };
  timeout?: Duration;
  retry_policy?: RetryPolicy;
  prefix_rewrite?: string;
  /** Istio's uriRegexRewrite: every match of the pattern in the path is replaced (\\1 refers to groups). */
  regex_rewrite?: { pattern: { regex: string }; substitution: string };
  host_rewrite_literal?: string;
  max_stream_duration?: { max_stream_duration?: Duration; grpc_timeout_header_max?: Duration };
  /** Istio's mirror / mirrors: fire-and-forget copies, Host suffixed "-shadow" before any port. */
  request_mirror_policies?: RequestMirrorPolicy[];
  /** Consistent hashing key(s) for RING_HASH / MAGLEV clusters (Istio: DestinationRule consistentHash). */
  hash_policy?: HashPolicy[];
}
/** envoy.config.route.v3.RouteAction.HashPolicy: one of header, cookie, connection_properties, query_parameter. */
export interface HashPolicy {
  header?: { header_name: string };
  cookie?: { name: string; ttl?: Duration; path?: string };
  connection_properties?: { source_ip: boolean };
  query_parameter?: { name: string };
  terminal?: boolean;
}
export interface FractionalPercent { numerator: number; denominator?: "HUNDRED" | "TEN_THOUSAND" | "MILLION" }
export interface RequestMirrorPolicy {
  cluster: string;
  /** Absent: every request is mirrored. */
  runtime_fraction?: { default_value: FractionalPercent; runtime_key?: string };
  trace_sampled?: BoolValue;
}
export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action?: "APPEND_IF_EXISTS_OR_ADD" | "ADD_IF_ABSENT" | "OVERWRITE_IF_EXISTS_OR_ADD" | "OVERWRITE_IF_EXISTS";
}
export interface Route {
  name?: string;
  match: RouteMatch;
  route?: RouteAction;
  redirect?: { host_redirect?: string; path_redirect?: string; prefix_rewrite?: string; port_redirect?: number; scheme_redirect?: string; https_redirect?: boolean; response_code?: "MOVED_PERMANENTLY" | "FOUND" | "SEE_OTHER" | "TEMPORARY_REDIRECT" | "PERMANENT_REDIRECT" };
  direct_response?: { status: number; body?: { inline_string?: string } };
  request_headers_to_add?: HeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOption[];
  response_headers_to_remove?: string[];
  /** Envoy's route metadata; Mizzen puts the deciding Istio object under filter_metadata.istio.config. */
  metadata?: Metadata;
  decorator?: { operation: string };
  /** Per-filter config keyed by HTTP filter name: HTTPFault, CorsPolicy. */
  typed_per_filter_config?: Record<string, { "@type": string } & Record<string, unknown>>;
}

// ---- Cluster (CDS) ----
export interface Cluster {
  name: string;
  type?: "STATIC" | "STRICT_DNS" | "LOGICAL_DNS" | "EDS" | "ORIGINAL_DST";
  eds_cluster_config?: { eds_config: ConfigSource; service_name?: string };
  connect_timeout?: Duration;
  lb_policy?: "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "RING_HASH" | "MAGLEV" | "CLUSTER_PROVIDED";
  /** For STATIC / STRICT_DNS clusters. */
  load_assignment?: ClusterLoadAssignment;
  circuit_breakers?: { thresholds: { priority?: "DEFAULT" | "HIGH"; max_connections?: UInt32Value; max_pending_requests?: UInt32Value; max_requests?: UInt32Value; max_retries?: UInt32Value }[] };
  common_http_protocol_options?: { idle_timeout?: Duration; max_requests_per_connection?: UInt32Value };
  outlier_detection?: {
    consecutive_5xx?: UInt32Value;
    consecutive_gateway_failure?: UInt32Value;
    interval?: Duration;
    base_ejection_time?: Duration;
    max_ejection_percent?: UInt32Value;
    enforcing_consecutive_5xx?: UInt32Value;
    enforcing_consecutive_gateway_failure?: UInt32Value;
    max_ejection_time?: Duration;
  };
  /** Panic threshold: below this healthy percentage Envoy ignores health; Istio sets minHealthPercent. */
  common_lb_config?: { healthy_panic_threshold?: { value: number }; locality_weighted_lb_config?: Record<string, never> };
  /** RING_HASH settings (Envoy's defaults: 1024 and 8388608 entries, XX_HASH). */
  ring_hash_lb_config?: { minimum_ring_size?: { value: number }; maximum_ring_size?: { value: number }; hash_function?: "XX_HASH" | "MURMUR_HASH_2" };
  /** MAGLEV settings: table_size must be prime (Envoy's default 65537). */
  maglev_lb_config?: { table_size?: { value: number } };
  metadata?: Metadata;
  alt_stat_name?: string;
  /** Keyed by extension name; Mizzen uses envoy.extensions.upstreams.http.v3.HttpProtocolOptions (upstream HTTP/2 for gRPC ports). */
  typed_extension_protocol_options?: Record<string, HttpProtocolOptionsAny>;
  /** TLS to every endpoint (DestinationRule tls.mode ISTIO_MUTUAL, SIMPLE, MUTUAL). */
  transport_socket?: TransportSocket;
  /**
   * Auto mTLS: the first entry whose match is a subset of the endpoint's
   * filter_metadata["envoy.transport_socket_match"] decides (tlsMode: istio -> mTLS).
   */
  transport_socket_matches?: { name: string; match?: Struct; transport_socket: TransportSocket }[];
  /** STRICT_DNS: how often each endpoint's host name is resolved again (Envoy's default 5 s). */
  dns_refresh_rate?: Duration;
  /** STRICT_DNS: refresh on the answer's TTL instead of dns_refresh_rate. */
  respect_dns_ttl?: boolean;
}

/** envoy.extensions.upstreams.http.v3.HttpProtocolOptions as an Any. */
export interface HttpProtocolOptionsAny {
  "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  explicit_http_config?: { http_protocol_options?: Record<string, never>; http2_protocol_options?: Record<string, unknown> };
}

// ---- ClusterLoadAssignment (EDS) ----
export interface LbEndpoint {
  endpoint: { address: Address; hostname?: string };
  health_status?: "UNKNOWN" | "HEALTHY" | "UNHEALTHY" | "DRAINING" | "TIMEOUT" | "DEGRADED";
  load_balancing_weight?: UInt32Value;
  metadata?: Metadata;
}
export interface LocalityLbEndpoints {
  locality?: { region?: string; zone?: string; sub_zone?: string };
  lb_endpoints: LbEndpoint[];
  load_balancing_weight?: UInt32Value;
  priority?: number;
}
export interface ClusterLoadAssignment {
  cluster_name: string;
  endpoints: LocalityLbEndpoints[];
}

/** What a translator produces for one proxy: resources by type, each list sorted by name. */
export interface ProxyResources {
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}
