// /config_dump: the received resources per type with version and last update time, shaped
// like Envoy's admin ConfigDump, plus the last NACK.
import type { ProxyState } from "../state/proxy-state.ts";

const ADMIN = "type.googleapis.com/envoy.admin.v3.";

function latestVersion(entries: Iterable<{ version: string }>): string {
  let v = "";
  for (const e of entries) v = e.version > v ? e.version : v;
  return v;
}

export function configDump(state: ProxyState): unknown {
  const raw = state.current.raw;
  return {
    configs: [
      {
        "@type": `${ADMIN}ListenersConfigDump`,
        version_info: latestVersion(raw.listeners.values()),
        dynamic_listeners: [...raw.listeners.values()].map((e) => ({
          name: e.name,
          active_state: { version_info: e.version, listener: e.resource, last_updated: e.lastUpdated.toISOString() },
        })),
      },
      {
        "@type": `${ADMIN}ClustersConfigDump`,
        version_info: latestVersion(raw.clusters.values()),
        dynamic_active_clusters: [...raw.clusters.values()].map((e) => ({ version_info: e.version, cluster: e.resource, last_updated: e.lastUpdated.toISOString() })),
      },
      {
        "@type": `${ADMIN}RoutesConfigDump`,
        dynamic_route_configs: [...raw.routes.values()].map((e) => ({ version_info: e.version, route_config: e.resource, last_updated: e.lastUpdated.toISOString() })),
      },
      {
        "@type": `${ADMIN}EndpointsConfigDump`,
        dynamic_endpoint_configs: [...raw.endpoints.values()].map((e) => ({ version_info: e.version, endpoint_config: e.resource, last_updated: e.lastUpdated.toISOString() })),
      },
    ],
    last_nack: state.lastNack ? { type_url: state.lastNack.typeUrl, version_info: state.lastNack.version, reason: state.lastNack.reason, at: state.lastNack.at.toISOString() } : null,
  };
}
