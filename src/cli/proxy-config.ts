// `mizzen proxy-config listeners|routes|clusters|endpoints|secrets <proxy>`: what one proxy should have
// (the control plane's /debug/config_dump) or, with --from-proxy, what it actually holds (the
// sidecar's own admin /config_dump on <podIP>:15000), as istioctl-style tables.
import { UserError } from "./user-error.ts";
import { controlJson, getJson, outputFormat, parseNodeId, proxyDisplayName, renderTable, resolveProxy, type InspectOptions, type Output } from "./inspect-common.ts";
import { clustersTable, endpointsTable, listenersTable, routesTable, type ProxyResources, type Table } from "./proxy-config-tables.ts";

export const PROXY_CONFIG_TYPES = ["listeners", "routes", "clusters", "endpoints"] as const;
export type ProxyConfigType = (typeof PROXY_CONFIG_TYPES)[number];

export interface ProxyConfigOptions extends InspectOptions {
  /** Read the sidecar's admin /config_dump instead of the control plane's view. */
  fromProxy?: boolean;
  /** The sidecar's admin port on its pod IP (default 15000). */
  adminPort?: number;
}

const TABLES: Record<ProxyConfigType, (r: ProxyResources) => Table> = {
  listeners: listenersTable,
  routes: routesTable,
  clusters: clustersTable,
  endpoints: endpointsTable,
};

type Obj = Record<string, any>; // loosely shaped JSON read back from a dump

/** The sidecar's Envoy-style ConfigDump, flattened to resources per type. */
export function fromAdminDump(dump: { configs?: Obj[] }): ProxyResources {
  const byType = (suffix: string) => (dump.configs ?? []).find((c) => String(c["@type"] ?? "").endsWith(suffix)) ?? {};
  return {
    listeners: (byType("ListenersConfigDump").dynamic_listeners ?? []).map((l: Obj) => l.active_state?.listener ?? { name: l.name }),
    routes: (byType("RoutesConfigDump").dynamic_route_configs ?? []).map((r: Obj) => r.route_config),
    clusters: (byType("ClustersConfigDump").dynamic_active_clusters ?? []).map((c: Obj) => c.cluster),
    endpoints: (byType("EndpointsConfigDump").dynamic_endpoint_configs ?? []).map((e: Obj) => e.endpoint_config),
  };
}

export async function proxyResources(proxyId: string, o: ProxyConfigOptions): Promise<ProxyResources> {
  if (!o.fromProxy) return controlJson<ProxyResources>(o.control, `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`);
  const { ip } = parseNodeId(proxyId);
  if (!ip) throw new UserError(`proxy id "${proxyId}" carries no pod IP, so its admin address is unknown; leave out --from-proxy to read the control plane's view`);
  const host = ip.includes(":") ? `[${ip}]` : ip;
  const admin = `${host}:${o.adminPort ?? 15000}`;
  const { status, body } = await getJson<{ configs?: Obj[] }>(`http://${admin}/config_dump`, `the sidecar of ${proxyDisplayName(proxyId)}`, "is the sidecar running, with its admin on the pod IP? Leave out --from-proxy to read the control plane's view");
  if (status !== 200) throw new UserError(`the sidecar at ${admin} answered /config_dump with status ${status}`);
  return fromAdminDump(body);
}

export function parseConfigType(type: string): ProxyConfigType | "secrets" {
  if (type === "secret" || type === "secrets") return "secrets";
  const t = (PROXY_CONFIG_TYPES as readonly string[]).find((k) => k === type || k === `${type}s`);
  if (!t) throw new UserError(`"${type}" is not a config type; use one of ${PROXY_CONFIG_TYPES.join(", ")}, secrets`);
  return t as ProxyConfigType;
}

interface CertsPage { certificates?: { cert_chain?: Obj[]; ca_cert?: Obj[] }[] }

/**
 * Secrets never pass through the control plane (the key stays in the sidecar), so they are read
 * from the sidecar's admin /certs, as istioctl reads Envoy's.
 */
async function secretsCommand(proxyId: string, o: ProxyConfigOptions, json: boolean, out: Output): Promise<number> {
  const { ip } = parseNodeId(proxyId);
  if (!ip) throw new UserError(`proxy id "${proxyId}" carries no pod IP, so its admin address is unknown`);
  const admin = `${ip.includes(":") ? `[${ip}]` : ip}:${o.adminPort ?? 15000}`;
  const { status, body } = await getJson<CertsPage>(`http://${admin}/certs`, `the sidecar of ${proxyDisplayName(proxyId)}`, "is the sidecar running, with its admin on the pod IP?");
  if (status !== 200) throw new UserError(`the sidecar at ${admin} answered /certs with status ${status}`);
  if (json) {
    out.log(JSON.stringify(body, null, 2));
    return 0;
  }
  const rows: string[][] = [];
  for (const c of body.certificates ?? []) {
    for (const d of [...(c.cert_chain ?? []), ...(c.ca_cert ?? [])]) {
      const sans = (d.subject_alt_names ?? []).map((s: Obj) => s.uri ?? s.dns).join(",") || "-";
      const valid = Date.parse(d.expiration_time) > Date.now() && Date.parse(d.valid_from) <= Date.now();
      rows.push([d.path, d.path === "ROOTCA" ? "Trust bundle" : "Cert Chain", valid ? "ACTIVE" : "EXPIRED", String(valid), d.serial_number, d.expiration_time, d.valid_from, sans]);
    }
  }
  if (rows.length === 0) {
    out.log(`${proxyDisplayName(proxyId)} has no certificates (started without --ca-root: no workload identity, no mTLS)`);
    return 0;
  }
  for (const l of renderTable(["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE", "IDENTITY"], rows)) out.log(l);
  return 0;
}

/** Prints one type's table (or the raw resources as JSON); returns the exit code. */
export async function proxyConfigCommand(type: string, proxy: string, o: ProxyConfigOptions, out: Output): Promise<number> {
  const t = parseConfigType(type);
  const format = outputFormat(o);
  const target = await resolveProxy(o.control, proxy);
  if (t === "secrets") return secretsCommand(target.proxyId, o, format === "json", out);
  const resources = await proxyResources(target.proxyId, o);
  if (format === "json") {
    out.log(JSON.stringify(resources[t], null, 2));
    return 0;
  }
  const table = TABLES[t](resources);
  if (table.rows.length === 0) {
    out.log(`${proxyDisplayName(target.proxyId)} has no ${t}${o.fromProxy ? "" : " in the control plane's view"}`);
    return 0;
  }
  for (const l of renderTable(table.header, table.rows)) out.log(l);
  return 0;
}
