// /clusters in Envoy's text form ("<cluster>::<host>:<port>::<stat>::<value>") and JSON.
import type { CompiledCluster, EndpointAddress, Snapshot } from "../state/types.ts";
import type { ClusterRuntime, ClusterRuntimes, HostStats } from "../upstream/cluster-runtime.ts";

/** Envoy prints an unlimited threshold as 2^32-1. */
const UNLIMITED = 4294967295;

function thresholds(c: CompiledCluster): [string, number][] {
  const cb = c.circuitBreakers;
  const v = (n: number | undefined) => (n === undefined || n === Infinity ? UNLIMITED : n);
  return [
    ["max_connections", v(cb?.maxConnections)],
    ["max_pending_requests", v(cb?.maxPendingRequests)],
    ["max_requests", v(cb?.maxRequests)],
    ["max_retries", v(cb?.maxRetries)],
  ];
}

/** Cluster-level overflow and outlier counters (Envoy's stat names). */
export function clusterCounters(rt: ClusterRuntime | undefined): [string, number][] {
  return [
    ["upstream_rq_pending_overflow", rt?.overflow.rqPendingOverflow ?? 0],
    ["upstream_cx_overflow", rt?.overflow.cxOverflow ?? 0],
    ["upstream_rq_retry_overflow", rt?.overflow.rqRetryOverflow ?? 0],
    ["outlier_detection.ejections_active", rt?.outlier?.ejectedCount ?? 0],
    ["outlier_detection.ejections_enforced_total", rt?.outlier?.ejectionsTotal ?? 0],
    ["outlier_detection.ejections_overflow", rt?.outlier?.ejectionsOverflow ?? 0],
  ];
}

function ejected(rt: ClusterRuntime | undefined, ep: EndpointAddress): boolean {
  return rt?.outlier?.isEjected(ep.key) ?? false;
}

/** Envoy's health_flags text: "healthy", or the reasons joined ("/failed_outlier_check/eds_unhealthy"). */
function healthFlags(rt: ClusterRuntime | undefined, ep: EndpointAddress): string {
  let flags = ejected(rt, ep) ? "/failed_outlier_check" : "";
  if (!ep.healthy) flags += `/eds_${ep.healthStatus.toLowerCase()}`;
  return flags || "healthy";
}

function hostStats(rt: ClusterRuntimes, cluster: string, key: string): HostStats | undefined {
  return rt.peek(cluster)?.hosts.get(key);
}

export function clustersText(snap: Snapshot, rt: ClusterRuntimes): string {
  const lines: string[] = [];
  for (const c of snap.clusters.values()) {
    const runtime = rt.peek(c.name);
    for (const [k, v] of thresholds(c)) lines.push(`${c.name}::default_priority::${k}::${v}`);
    lines.push(`${c.name}::added_via_api::true`);
    for (const [k, v] of clusterCounters(runtime)) lines.push(`${c.name}::${k}::${v}`);
    for (const ep of c.endpoints) {
      const h = hostStats(rt, c.name, ep.key);
      const p = `${c.name}::${ep.key}`;
      lines.push(`${p}::cx_active::${runtime ? runtime.connections(ep.host, ep.port) : 0}`);
      lines.push(`${p}::cx_connect_fail::${h?.cxConnectFail ?? 0}`);
      lines.push(`${p}::rq_active::${h?.rqActive ?? 0}`);
      lines.push(`${p}::rq_error::${h?.rqError ?? 0}`);
      lines.push(`${p}::rq_success::${h?.rqSuccess ?? 0}`);
      lines.push(`${p}::rq_timeout::${h?.rqTimeout ?? 0}`);
      lines.push(`${p}::rq_total::${h?.rqTotal ?? 0}`);
      lines.push(`${p}::hostname::${ep.host}`);
      lines.push(`${p}::health_flags::${healthFlags(runtime, ep)}`);
      lines.push(`${p}::weight::${ep.weight}`);
    }
  }
  return lines.join("\n") + (lines.length ? "\n" : "");
}

export function clustersJson(snap: Snapshot, rt: ClusterRuntimes): unknown {
  return {
    cluster_statuses: [...snap.clusters.values()].map((c) => {
      const runtime = rt.peek(c.name);
      return {
        name: c.name,
        added_via_api: true,
        circuit_breakers: { thresholds: [{ priority: "DEFAULT", ...Object.fromEntries(thresholds(c)) }] },
        stats: clusterCounters(runtime).map(([name, value]) => ({ name, value })),
        host_statuses: c.endpoints.map((ep) => {
          const h = hostStats(rt, c.name, ep.key);
          return {
            address: { socket_address: { address: ep.host, port_value: ep.port } },
            stats: [
              { name: "cx_active", value: runtime ? runtime.connections(ep.host, ep.port) : 0 },
              { name: "cx_connect_fail", value: h?.cxConnectFail ?? 0 },
              { name: "rq_active", value: h?.rqActive ?? 0 },
              { name: "rq_error", value: h?.rqError ?? 0 },
              { name: "rq_success", value: h?.rqSuccess ?? 0 },
              { name: "rq_timeout", value: h?.rqTimeout ?? 0 },
              { name: "rq_total", value: h?.rqTotal ?? 0 },
            ],
            health_status: { eds_health_status: ep.healthStatus === "UNKNOWN" ? "HEALTHY" : ep.healthStatus, ...(ejected(runtime, ep) ? { failed_outlier_check: true } : {}) },
            weight: ep.weight,
          };
        }),
      };
    }),
  };
}
