// Rows of `mizzen proxy-config` tables, from Envoy resources in protobufjs object form (the
// control plane's dump and the sidecar's /config_dump hold the same shapes).
import { configPathName, istioMetaString } from "./inspect-common.ts";

type Obj = Record<string, any>; // loosely shaped JSON read back from a dump

export interface ProxyResources {
  listeners: Obj[];
  routes: Obj[];
  clusters: Obj[];
  endpoints: Obj[];
}

export interface Table {
  header: string[];
  rows: string[][];
}

function socketText(address: Obj | undefined): string {
  const s = address?.socket_address;
  return s ? `${s.address}:${s.port_value ?? 0}` : "-";
}

/** Where a listener's filter chains send traffic: RDS route, inline route or TCP cluster. */
function listenerDestination(l: Obj): string {
  const out: string[] = [];
  for (const chain of l.filter_chains ?? []) {
    for (const f of chain.filters ?? []) {
      const c = f.typed_config ?? {};
      if (c.rds?.route_config_name) out.push(`Route: ${c.rds.route_config_name}`);
      else if (c.route_config) out.push(`Inline Route: ${c.route_config.name ?? "-"}`);
      else if (c.cluster) out.push(`Cluster: ${c.cluster}`);
    }
  }
  if (l.api_listener) out.push("API listener");
  // Chains that differ only by transport (PeerAuthentication) show as one, with the transports.
  const transports = [...new Set((l.filter_chains ?? []).map((c: Obj) => (c.transport_socket ? "mTLS" : c.filter_chain_match?.transport_protocol === "raw_buffer" ? "plaintext" : "")).filter(Boolean))];
  const text = [...new Set(out)].join(", ");
  return text ? `${text}${transports.length ? ` [${transports.join(", ")}]` : ""}` : "-";
}

export function listenersTable(r: ProxyResources): Table {
  return {
    header: ["NAME", "ADDRESS:PORT", "DIRECTION", "ROUTES"],
    rows: r.listeners.map((l) => [l.name ?? "-", socketText(l.address), l.traffic_direction ?? "-", listenerDestination(l)]),
  };
}

function matchText(m: Obj | undefined): string {
  if (!m) return "-";
  let path = "-";
  if (m.prefix !== undefined) path = `${m.prefix}*`;
  else if (m.path !== undefined) path = m.path;
  else if (m.safe_regex) path = `~${m.safe_regex.regex}`;
  else if (m.path_separated_prefix !== undefined) path = `${m.path_separated_prefix}/*`;
  const headers = (m.headers ?? []).map((h: Obj) => `${h.name}${h.invert_match ? "!" : ""}`);
  return headers.length ? `${path} (headers: ${headers.join(",")})` : path;
}

/** The shortest domain (without ":port"), and how many more, as istioctl abbreviates. */
function domainsText(domains: string[] | undefined): string {
  if (!domains?.length) return "-";
  const short = [...new Set(domains.map((d) => d.replace(/:\d+$/, "")))].sort((a, b) => a.length - b.length);
  return short.length > 1 ? `${short[0]} +${short.length - 1} more` : short[0];
}

/** Route configs from RDS and the inline ones inside listeners (inbound). */
function allRouteConfigs(r: ProxyResources): Obj[] {
  const inline: Obj[] = [];
  for (const l of r.listeners) {
    for (const chain of l.filter_chains ?? []) for (const f of chain.filters ?? []) if (f.typed_config?.route_config) inline.push(f.typed_config.route_config);
  }
  return [...r.routes, ...inline];
}

export function routesTable(r: ProxyResources): Table {
  const rows: string[][] = [];
  for (const rc of allRouteConfigs(r)) {
    for (const vh of rc.virtual_hosts ?? []) {
      for (const route of vh.routes ?? []) {
        rows.push([rc.name ?? "-", vh.name ?? "-", domainsText(vh.domains), matchText(route.match), configPathName(istioMetaString(route, "config")) ?? "-"]);
      }
    }
  }
  return { header: ["ROUTE NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"], rows };
}

/** "outbound|9080|v1|reviews.default.svc.cluster.local" -> its parts; other names stay whole. */
export function clusterNameParts(name: string): { fqdn: string; port: string; subset: string; direction: string } {
  const p = name.split("|");
  if (p.length === 4 && (p[0] === "outbound" || p[0] === "inbound")) {
    return { fqdn: p[3] || "-", port: p[1] || "-", subset: p[2] || "-", direction: p[0] };
  }
  return { fqdn: name, port: "-", subset: "-", direction: "-" };
}

export function clustersTable(r: ProxyResources): Table {
  return {
    header: ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"],
    rows: r.clusters.map((c) => {
      const n = clusterNameParts(c.name ?? "");
      return [n.fqdn, n.port, n.subset, n.direction, c.type ?? (c.cluster_type ? "CUSTOM" : "-"), configPathName(istioMetaString(c, "config")) ?? "-"];
    }),
  };
}

export function endpointsTable(r: ProxyResources): Table {
  const rows: string[][] = [];
  for (const cla of r.endpoints) {
    for (const group of cla.endpoints ?? []) {
      for (const lb of group.lb_endpoints ?? []) {
        const status = !lb.health_status || lb.health_status === "UNKNOWN" ? "HEALTHY" : lb.health_status;
        rows.push([socketText(lb.endpoint?.address), status, cla.cluster_name ?? "-"]);
      }
    }
  }
  return { header: ["ENDPOINT", "STATUS", "CLUSTER"], rows };
}
