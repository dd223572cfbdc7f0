// `mizzen proxy-status`: istioctl's view of who is connected and whether each proxy has what
// it was sent: one row per proxy with CDS, LDS, EDS, RDS as SYNCED / STALE / NACKED / NOT SENT.
import type { ProxySyncStatus, TypeSyncStatus } from "../xds/sync-status.ts";
import type { ProxyNode } from "../xds/node.ts";
import { controlJson, outputFormat, proxyDisplayName, renderTable, type InspectOptions, type Output } from "./inspect-common.ts";

const TYPES: [string, string][] = [
  ["CDS", "type.googleapis.com/envoy.config.cluster.v3.Cluster"],
  ["LDS", "type.googleapis.com/envoy.config.listener.v3.Listener"],
  ["EDS", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"],
  ["RDS", "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"],
];

export interface ProxyStatusRow {
  name: string;
  proxyId: string;
  /** By short type name (CDS, LDS, EDS, RDS). */
  status: Record<string, string>;
  nacks: { type: string; version: string; message: string }[];
  version: string;
  health: string;
}

function stateText(t: TypeSyncStatus | undefined): string {
  return !t || t.state === "NOT_SENT" ? "NOT SENT" : t.state;
}

function healthText(h: ProxySyncStatus["health"]): string {
  if (!h) return "-";
  return h.healthy ? "HEALTHY" : `UNHEALTHY${h.message ? ` (${h.message})` : ""}`;
}

export async function proxyStatusRows(control: string): Promise<ProxyStatusRow[]> {
  const [sync, adsz] = await Promise.all([
    controlJson<ProxySyncStatus[]>(control, "/debug/syncz"),
    controlJson<{ connections?: { id: string; node: ProxyNode }[] }>(control, "/debug/adsz"),
  ]);
  const nodes = new Map((adsz.connections ?? []).map((c) => [c.id, c.node]));
  return sync
    .map((p) => {
      const byUrl = new Map(p.types.map((t) => [t.typeUrl, t]));
      const status: Record<string, string> = {};
      const nacks: ProxyStatusRow["nacks"] = [];
      for (const [short, url] of TYPES) {
        const t = byUrl.get(url);
        status[short] = stateText(t);
        if (t?.nack) nacks.push({ type: short, version: t.nack.version, message: t.nack.message });
      }
      return { name: proxyDisplayName(p.proxyId), proxyId: p.proxyId, status, nacks, version: nodes.get(p.connectionId)?.proxyVersion ?? "-", health: healthText(p.health) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Prints the table (or JSON); returns the exit code. */
export async function proxyStatusCommand(o: InspectOptions, out: Output): Promise<number> {
  const format = outputFormat(o);
  const rows = await proxyStatusRows(o.control);
  if (format === "json") {
    out.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    out.log(`no proxies are connected to the control plane at ${o.control}`);
    return 0;
  }
  const header = ["NAME", ...TYPES.map(([s]) => s), "VERSION", "HEALTH"];
  for (const l of renderTable(header, rows.map((r) => [r.name, ...TYPES.map(([s]) => r.status[s]), r.version, r.health]))) out.log(l);
  const nacked = rows.flatMap((r) => r.nacks.map((n) => `  ${r.name} ${n.type} version ${n.version}: ${n.message}`));
  if (nacked.length > 0) {
    out.log("");
    out.log("Rejected (NACKED) updates; the proxy keeps its last good config:");
    for (const l of nacked) out.log(l);
  }
  return 0;
}
