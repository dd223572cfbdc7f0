// Cluster and ClusterLoadAssignment -> CompiledCluster / endpoint lists.
import type { Cluster, ClusterLoadAssignment, Metadata } from "../../xds/envoy-types.ts";
import type { CircuitBreakerLimits, ClusterTls, CompiledCluster, EndpointAddress, LbConfig, LbPolicy, OutlierDetectionConfig } from "./types.ts";
import { compileUpstreamTls, isRawBuffer } from "../tls/compile-transport.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";
import { clusterService } from "../telemetry/destination-service.ts";
import { compileDnsRefresh } from "./compile-dns.ts";
import { DEFAULT_LB_CONFIG } from "../upstream/load-balancer.ts";
import { isPrime } from "../upstream/maglev.ts";

const TYPES = new Set(["STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST"]);
const UNHEALTHY = new Set(["UNHEALTHY", "DRAINING", "TIMEOUT"]);
/** Thresholds at or above this are "unlimited" (Istio's default is 2^32-1). */
const UNLIMITED = 4294967295;
/** Envoy's defaults for a threshold the cluster leaves out. */
const ENVOY_DEFAULT_LIMITS = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
const LB_POLICIES = new Set(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV"]);
/** Envoy's limits: ring sizes up to 8M entries, Maglev tables up to 5000011 slots. */
const MAX_RING_SIZE = 8_388_608;
const MAX_MAGLEV_TABLE = 5_000_011;
/** Envoy's default connect_timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export function compileEndpoints(cla: ClusterLoadAssignment, field: string): EndpointAddress[] {
  const out: EndpointAddress[] = [];
  (cla.endpoints ?? []).forEach((loc, i) => {
    const priority = loc?.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority > 128) throw new ConfigInvalid(`${field}.endpoints[${i}].priority`, `priority ${String(priority)} must be a whole number from 0 to 128`);
    const localityWeight = loc?.load_balancing_weight?.value;
    if (localityWeight !== undefined && (!Number.isInteger(localityWeight) || localityWeight < 1)) throw new ConfigInvalid(`${field}.endpoints[${i}].load_balancing_weight`, `locality weight ${String(localityWeight)} must be a whole number of at least 1`);
    const l = loc?.locality;
    const locality = l && (l.region || l.zone || l.sub_zone) ? `${l.region ?? ""}/${l.zone ?? ""}/${l.sub_zone ?? ""}` : "";
    (loc?.lb_endpoints ?? []).forEach((ep, j) => {
      const f = `${field}.endpoints[${i}].lb_endpoints[${j}].endpoint.address.socket_address`;
      const sa = ep?.endpoint?.address?.socket_address;
      if (!sa?.address) throw new ConfigInvalid(f, "endpoint address is missing");
      const port = Number(sa.port_value);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConfigInvalid(`${f}.port_value`, `${String(sa.port_value)} is not a port`);
      const status = ep.health_status ?? "UNKNOWN";
      const weight = ep.load_balancing_weight?.value ?? 1;
      if (!Number.isInteger(weight) || weight < 1) throw new ConfigInvalid(`${field}.endpoints[${i}].lb_endpoints[${j}].load_balancing_weight`, `weight ${String(weight)} must be a whole number of at least 1`);
      out.push({
        host: sa.address,
        port,
        key: sa.address.includes(":") ? `[${sa.address}]:${port}` : `${sa.address}:${port}`,
        healthy: !UNHEALTHY.has(status),
        healthStatus: status,
        weight,
        socketMatch: socketMatchOf(ep.metadata),
        tls: undefined,
        priority,
        locality,
        ...(localityWeight !== undefined ? { localityWeight } : {}),
      });
    });
  });
  return out;
}

/** String fields of filter_metadata["envoy.transport_socket_match"]. */
function socketMatchOf(md: Metadata | undefined): Record<string, string> | undefined {
  const fields = md?.filter_metadata?.["envoy.transport_socket_match"]?.fields;
  if (!fields) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (typeof v?.string_value === "string") out[k] = v.string_value;
  return out;
}

function compileClusterTls(c: Cluster, field: string): ClusterTls | undefined {
  const matches = (c.transport_socket_matches ?? []).map((m, i) => {
    const f = `${field}.transport_socket_matches[${i}]`;
    const match: Record<string, string> = {};
    for (const [k, v] of Object.entries(m?.match?.fields ?? {})) {
      if (typeof v?.string_value !== "string") throw new ConfigInvalid(`${f}.match.${k}`, "only string values can be matched");
      match[k] = v.string_value;
    }
    return { match, tls: isRawBuffer(m?.transport_socket) ? undefined : { ...compileUpstreamTls(m.transport_socket, `${f}.transport_socket`), auto: true } };
  });
  const always = c.transport_socket && !isRawBuffer(c.transport_socket) ? compileUpstreamTls(c.transport_socket, `${field}.transport_socket`) : undefined;
  if (!always && matches.every((m) => !m.tls)) return undefined;
  return { always, matches };
}

/** Envoy's rule: the first match whose every key equals the endpoint's metadata, else transport_socket. */
function tlsFor(t: ClusterTls | undefined, ep: EndpointAddress): EndpointAddress["tls"] {
  if (!t) return undefined;
  for (const m of t.matches) {
    let ok = true;
    for (const k in m.match) if (ep.socketMatch?.[k] !== m.match[k]) ok = false;
    if (ok) return m.tls;
  }
  return t.always;
}

function withTls(t: ClusterTls | undefined, endpoints: EndpointAddress[]): EndpointAddress[] {
  if (!t) return endpoints;
  return endpoints.map((e) => ({ ...e, tls: tlsFor(t, e) }));
}

function compileLbPolicy(c: Cluster, field: string): LbPolicy {
  const p = c.lb_policy ?? "ROUND_ROBIN";
  if (LB_POLICIES.has(p)) return p as LbPolicy;
  // ORIGINAL_DST clusters pick the host from the request; the policy is never consulted.
  if (p === "CLUSTER_PROVIDED") return "ROUND_ROBIN";
  throw new ConfigInvalid(`${field}.lb_policy`, `load balancing policy ${String(p)} is not supported; use ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH or MAGLEV`);
}

function size(v: { value?: number } | undefined, fallback: number, f: string, max: number): number {
  if (v?.value === undefined) return fallback;
  const n = Number(v.value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigInvalid(f, `${String(v.value)} must be a whole number from 1 to ${max}`);
  return n;
}

/** ring_hash_lb_config, maglev_lb_config and locality weighting, with Envoy's defaults. */
export function compileLbConfig(c: Cluster, field: string): LbConfig {
  const d = DEFAULT_LB_CONFIG;
  const ring = c.ring_hash_lb_config;
  const minRingSize = size(ring?.minimum_ring_size, d.minRingSize, `${field}.ring_hash_lb_config.minimum_ring_size`, MAX_RING_SIZE);
  const maxRingSize = size(ring?.maximum_ring_size, d.maxRingSize, `${field}.ring_hash_lb_config.maximum_ring_size`, MAX_RING_SIZE);
  if (minRingSize > maxRingSize) throw new ConfigInvalid(`${field}.ring_hash_lb_config`, `minimum_ring_size ${minRingSize} is larger than maximum_ring_size ${maxRingSize}`);
  const fn = ring?.hash_function ?? "XX_HASH";
  if (fn !== "XX_HASH") throw new ConfigInvalid(`${field}.ring_hash_lb_config.hash_function`, `${String(fn)} is not supported; use XX_HASH (the default)`);
  const tableSize = size(c.maglev_lb_config?.table_size, d.tableSize, `${field}.maglev_lb_config.table_size`, MAX_MAGLEV_TABLE);
  if (!isPrime(tableSize)) throw new ConfigInvalid(`${field}.maglev_lb_config.table_size`, `${tableSize} is not a prime number; Maglev needs a prime table size (e.g. 65537, the default)`);
  const localityWeighted = c.common_lb_config?.locality_weighted_lb_config !== undefined && c.common_lb_config.locality_weighted_lb_config !== null;
  const cfg = { minRingSize, maxRingSize, tableSize, localityWeighted };
  return { ...cfg, key: JSON.stringify(cfg) };
}

function limit(v: { value?: number } | undefined, fallback: number, f: string): number {
  if (v === undefined || v.value === undefined) return fallback;
  const n = Number(v.value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigInvalid(f, `${String(v.value)} is not a whole number`);
  return n >= UNLIMITED ? Infinity : n;
}

/** The DEFAULT-priority thresholds; undefined when all four are unlimited. */
export function compileCircuitBreakers(c: Cluster, field: string): CircuitBreakerLimits | undefined {
  const thresholds = c.circuit_breakers?.thresholds ?? [];
  const i = thresholds.findIndex((t) => (t?.priority ?? "DEFAULT") === "DEFAULT");
  const t = i >= 0 ? thresholds[i] : undefined;
  const f = `${field}.circuit_breakers.thresholds[${i}]`;
  const d = ENVOY_DEFAULT_LIMITS;
  const out: CircuitBreakerLimits = {
    maxConnections: limit(t?.max_connections, d.maxConnections, `${f}.max_connections`),
    maxPendingRequests: limit(t?.max_pending_requests, d.maxPendingRequests, `${f}.max_pending_requests`),
    maxRequests: limit(t?.max_requests, d.maxRequests, `${f}.max_requests`),
    maxRetries: limit(t?.max_retries, d.maxRetries, `${f}.max_retries`),
  };
  const unlimited = out.maxConnections === Infinity && out.maxPendingRequests === Infinity && out.maxRequests === Infinity && out.maxRetries === Infinity;
  return unlimited ? undefined : out;
}

/**
 * Consecutive-error outlier detection with Envoy's defaults (5 errors, 10 s sweeps, 30 s base
 * ejection capped at 300 s, 10 %). Envoy enforces gateway-failure ejection only when
 * enforcing_consecutive_gateway_failure says so; Istio always sets it to 100 when the
 * threshold is given, so an explicit threshold is enforced here unless enforcing says 0.
 */
export function compileOutlierDetection(c: Cluster, field: string): OutlierDetectionConfig | undefined {
  const od = c.outlier_detection as (Cluster["outlier_detection"] & Record<string, { value?: number } | undefined>) | undefined;
  if (!od) return undefined;
  const f = `${field}.outlier_detection`;
  const pct = (v: { value?: number } | undefined, fallback: number, name: string) => {
    const n = limit(v, fallback, `${f}.${name}`);
    if (n > 100) throw new ConfigInvalid(`${f}.${name}`, `${n} is not a percentage (0-100)`);
    return n;
  };
  const enforce5xx = pct(od.enforcing_consecutive_5xx, 100, "enforcing_consecutive_5xx");
  const gwGiven = od.consecutive_gateway_failure?.value !== undefined;
  const enforceGw = pct(od.enforcing_consecutive_gateway_failure, gwGiven ? 100 : 0, "enforcing_consecutive_gateway_failure");
  const cfg = {
    consecutive5xx: enforce5xx > 0 ? limit(od.consecutive_5xx, 5, `${f}.consecutive_5xx`) : 0,
    consecutiveGatewayFailure: enforceGw > 0 ? limit(od.consecutive_gateway_failure, 5, `${f}.consecutive_gateway_failure`) : 0,
    intervalMs: durationMs(od.interval, `${f}.interval`) ?? 10_000,
    baseEjectionMs: durationMs(od.base_ejection_time, `${f}.base_ejection_time`) ?? 30_000,
    maxEjectionMs: durationMs(od.max_ejection_time as { seconds?: number } | undefined, `${f}.max_ejection_time`) ?? 300_000,
    maxEjectionPercent: pct(od.max_ejection_percent, 10, "max_ejection_percent"),
  };
  if (cfg.intervalMs <= 0) throw new ConfigInvalid(`${f}.interval`, "the sweep interval must be longer than 0");
  for (const k of ["consecutive5xx", "consecutiveGatewayFailure"] as const) if (cfg[k] === Infinity) cfg[k] = 0;
  return { ...cfg, key: JSON.stringify(cfg) };
}

/** Envoy's upstream HttpProtocolOptions (typed_extension_protocol_options). */
export const HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

function upstreamHttp2(c: Cluster): boolean | undefined {
  const o = c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS];
  const explicit = o?.explicit_http_config;
  if (!explicit) return undefined;
  if (explicit.http2_protocol_options) return true;
  if (explicit.http_protocol_options) return false;
  return undefined;
}

export function compileCluster(c: Cluster): CompiledCluster {
  const field = `cluster "${c?.name}"`;
  if (!c?.name) throw new ConfigInvalid("cluster.name", "cluster needs a name");
  const type = c.type ?? "STATIC";
  if (!TYPES.has(type)) throw new ConfigInvalid(`${field}.type`, `cluster type ${String(type)} is not supported`);
  const tls = compileClusterTls(c, field);
  const endpoints = withTls(tls, c.load_assignment ? compileEndpoints(c.load_assignment, `${field}.load_assignment`) : []);
  const edsName = type === "EDS" ? c.eds_cluster_config?.service_name || c.name : undefined;
  return {
    name: c.name,
    type,
    edsName,
    connectTimeoutMs: durationMs(c.connect_timeout, `${field}.connect_timeout`) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    endpoints,
    healthyEndpoints: endpoints.filter((e) => e.healthy),
    maxRequestsPerConnection: c.common_http_protocol_options?.max_requests_per_connection?.value ?? 0,
    lbPolicy: compileLbPolicy(c, field),
    lbConfig: compileLbConfig(c, field),
    ...(type === "STRICT_DNS" ? { dnsRefresh: compileDnsRefresh(c, field) } : {}),
    circuitBreakers: compileCircuitBreakers(c, field),
    outlierDetection: compileOutlierDetection(c, field),
    idleTimeoutMs: durationMs(c.common_http_protocol_options?.idle_timeout, `${field}.common_http_protocol_options.idle_timeout`) ?? 0,
    istioService: clusterService(c.metadata),
    http2: upstreamHttp2(c),
    tls,
  };
}

/** A copy of an EDS cluster with its endpoints filled in. */
export function withEndpoints(c: CompiledCluster, endpoints: EndpointAddress[]): CompiledCluster {
  const eps = withTls(c.tls, endpoints);
  return { ...c, endpoints: eps, healthyEndpoints: eps.filter((e) => e.healthy) };
}
