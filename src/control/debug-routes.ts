// The debug endpoints' contents, each a read of the control plane's state.
import type { ConfigStore } from "../config/store.ts";
import type { AdsServer } from "../xds/server.ts";
import type { MeshState } from "./mesh-state.ts";
import type { DebugHandler } from "./debug-server.ts";

export function debugRoutes(deps: { store: ConfigStore; state: MeshState; ads: AdsServer }): Record<string, DebugHandler> {
  const { store, state, ads } = deps;
  const findProxy = (id: string | null) => ads.connections().find((c) => c.node.id === id || c.id === id);
  return {
    "/ready": () => ({ body: "ready\n" }),
    "/debug/configz": () => ({
      body: { version: store.version, objects: store.status(), fileErrors: store.fileErrors() },
    }),
    "/debug/registryz": () => {
      const r = state.registry();
      return { body: { services: [...r.services.values()], workloads: [...r.workloads.values()], endpoints: r.endpoints } };
    },
    "/debug/syncz": () => ({ body: ads.syncStatus() }),
    "/debug/adsz": () => ({ body: { stats: ads.stats(), connections: ads.connections() } }),
    "/debug/config_dump": (q) => {
      const proxy = findProxy(q.get("proxyID"));
      if (!proxy) {
        return { status: 404, body: { error: `no connected proxy "${q.get("proxyID") ?? ""}"; see /debug/syncz for ids`, proxies: ads.connections().map((c) => c.node.id) } };
      }
      return { body: state.resources(proxy.node) };
    },
  };
}
