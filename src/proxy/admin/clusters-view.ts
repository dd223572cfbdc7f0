// /clusters in Envoy's text form ("<cluster>::<host>:<port>::<stat>::<value>") and JSON.
import type { Snapshot } from "../state/types.ts";
import type { ClusterRuntimes, HostStats } from "../upstream/cluster-runtime.ts";

function hostStats(rt: ClusterRuntimes, cluster: string, key: string): HostStats | undefined {
  return rt.peek(cluster)?.hosts.get(key);
}

export function clustersText(snap: Snapshot, rt: ClusterRuntimes): string {
  const lines: string[] = [];
  for (const c of snap.clusters.values()) {
    lines.push(`${c.name}::default_priority::max_connections::1024`);
    lines.push(`${c.name}::added_via_api::true`);
    const runtime = rt.peek(c.name);
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
      lines.push(`${p}::health_flags::${ep.healthy ? "healthy" : `/eds_${ep.healthStatus.toLowerCase()}`}`);
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
            health_status: { eds_health_status: ep.healthStatus === "UNKNOWN" ? "HEALTHY" : ep.healthStatus },
            weight: ep.weight,
          };
        }),
      };
    }),
  };
}
