// The proxies list: every connected proxy with its per-type sync state (as `mizzen
// proxy-status` shows it; no SDS: sidecars get their certificates by CSR, never over xDS),
// its application's health, and how long its stream has been up.
import type { ProxyNode } from "../../xds/node.ts";
import type { ProxySyncStatus, TypeSyncStatus } from "../../xds/sync-status.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import type { ProxiesResponse, ProxyRow, XdsShortType, XdsSyncState } from "./contract.ts";

const SHORT: readonly [XdsShortType, string][] = [
  ["CDS", TYPE.cluster],
  ["LDS", TYPE.listener],
  ["EDS", TYPE.endpoint],
  ["RDS", TYPE.route],
];

function stateOf(t: TypeSyncStatus | undefined): XdsSyncState {
  return !t || t.state === "NOT_SENT" ? "NOT SENT" : t.state;
}

function healthText(h: ProxySyncStatus["health"]): string {
  if (!h) return "-";
  return h.healthy ? "HEALTHY" : `UNHEALTHY${h.message ? ` (${h.message})` : ""}`;
}

export function proxiesView(sync: readonly ProxySyncStatus[], connections: readonly { id: string; node: ProxyNode }[], now: number): ProxiesResponse {
  const nodes = new Map(connections.map((c) => [c.id, c.node]));
  const proxies: ProxyRow[] = sync.map((p) => {
    const node = nodes.get(p.connectionId);
    const byUrl = new Map(p.types.map((t) => [t.typeUrl, t]));
    const types = Object.fromEntries(SHORT.map(([short, url]) => [short, stateOf(byUrl.get(url))])) as Record<XdsShortType, XdsSyncState>;
    const since = Date.parse(p.connectedAt);
    return {
      id: p.proxyId,
      name: node?.name ?? p.proxyId,
      namespace: node?.namespace ?? "",
      types,
      health: healthText(p.health),
      connectedFor: Number.isFinite(since) ? Math.max(0, Math.round((now - since) / 1000)) : 0,
    };
  });
  proxies.sort((a, b) => (a.namespace + "/" + a.name < b.namespace + "/" + b.name ? -1 : 1));
  return { proxies };
}
