// Cluster and ClusterLoadAssignment -> CompiledCluster / endpoint lists.
import type { Cluster, ClusterLoadAssignment } from "../../xds/envoy-types.ts";
import type { CompiledCluster, EndpointAddress } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";

const TYPES = new Set(["STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST"]);
const UNHEALTHY = new Set(["UNHEALTHY", "DRAINING", "TIMEOUT"]);
/** Envoy's default connect_timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export function compileEndpoints(cla: ClusterLoadAssignment, field: string): EndpointAddress[] {
  const out: EndpointAddress[] = [];
  (cla.endpoints ?? []).forEach((loc, i) => {
    (loc?.lb_endpoints ?? []).forEach((ep, j) => {
      const f = `${field}.endpoints[${i}].lb_endpoints[${j}].endpoint.address.socket_address`;
      const sa = ep?.endpoint?.address?.socket_address;
      if (!sa?.address) throw new ConfigInvalid(f, "endpoint address is missing");
      const port = Number(sa.port_value);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConfigInvalid(`${f}.port_value`, `${String(sa.port_value)} is not a port`);
      const status = ep.health_status ?? "UNKNOWN";
      out.push({
        host: sa.address,
        port,
        key: sa.address.includes(":") ? `[${sa.address}]:${port}` : `${sa.address}:${port}`,
        healthy: !UNHEALTHY.has(status),
        healthStatus: status,
        weight: ep.load_balancing_weight?.value ?? 1,
      });
    });
  });
  return out;
}

export function compileCluster(c: Cluster): CompiledCluster {
  const field = `cluster "${c?.name}"`;
  if (!c?.name) throw new ConfigInvalid("cluster.name", "cluster needs a name");
  const type = c.type ?? "STATIC";
  if (!TYPES.has(type)) throw new ConfigInvalid(`${field}.type`, `cluster type ${String(type)} is not supported`);
  const endpoints = c.load_assignment ? compileEndpoints(c.load_assignment, `${field}.load_assignment`) : [];
  const edsName = type === "EDS" ? c.eds_cluster_config?.service_name || c.name : undefined;
  return {
    name: c.name,
    type,
    edsName,
    connectTimeoutMs: durationMs(c.connect_timeout, `${field}.connect_timeout`) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    endpoints,
    healthyEndpoints: endpoints.filter((e) => e.healthy),
    maxRequestsPerConnection: c.common_http_protocol_options?.max_requests_per_connection?.value ?? 0,
  };
}

/** A copy of an EDS cluster with its endpoints filled in. */
export function withEndpoints(c: CompiledCluster, endpoints: EndpointAddress[]): CompiledCluster {
  return { ...c, endpoints, healthyEndpoints: endpoints.filter((e) => e.healthy) };
}
