// The debug endpoints' contents, each a read of the control plane's state.
import type { ConfigStore } from "../config/store.ts";
import type { AdsServer } from "../xds/server.ts";
import type { MeshState } from "./mesh-state.ts";
import type { DebugHandler } from "./debug-server.ts";
import type { ControlMetrics } from "./metrics.ts";
import type { ControlSecurity } from "./security.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../proxy/telemetry/prometheus-text.ts";
import { DescribeError, describeFromData } from "./describe-model.ts";

export function debugRoutes(deps: { store: ConfigStore; state: MeshState; ads: AdsServer; metrics?: ControlMetrics; security?: ControlSecurity; dashboard?: Record<string, DebugHandler> }): Record<string, DebugHandler> {
  const { store, state, ads, metrics, security, dashboard } = deps;
  const findProxy = (id: string | null) => ads.connections().find((c) => c.node.id === id || c.id === id);
  return {
    "/ready": () => ({ body: "ready\n" }),
    ...(metrics
      ? {
          "/metrics": () => ({
            contentType: PROMETHEUS_CONTENT_TYPE,
            body: metrics.render({
              xds: ads, config: store, services: () => state.registry().services.size,
              ...(security ? { security: { ca: security.certificates.stats(), adsRefused: security.adsRefused } } : {}),
            }),
          }),
        }
      : {}),
    "/debug/configz": () => ({
      // Each object carries the spec in force (absent when none ever was accepted), so
      // `mizzen describe` can match VirtualService hosts and DestinationRule hosts.
      body: { version: store.version, objects: store.status().map((s) => withSpec(s, store.get(s.key)?.spec)), fileErrors: store.fileErrors() },
    }),
    "/debug/registryz": () => {
      const r = state.registry();
      return { body: { services: [...r.services.values()], workloads: [...r.workloads.values()], endpoints: r.endpoints } };
    },
    "/debug/syncz": () => ({ body: ads.syncStatus() }),
    "/debug/describe": (q) => {
      const input = { objects: state.objects(), status: store.status(), registry: state.registry(), rootNamespace: state.mesh.rootNamespace };
      try {
        return { body: describeFromData(input, q.get("service") ?? "", q.get("namespace") || "default") };
      } catch (err) {
        if (err instanceof DescribeError) return { status: 404, body: { error: err.message } };
        throw err;
      }
    },
    "/debug/adsz": () => ({ body: { stats: ads.stats(), connections: ads.connections() } }),
    "/debug/config_dump": (q) => {
      const proxy = findProxy(q.get("proxyID"));
      if (!proxy) {
        return { status: 404, body: { error: `no connected proxy "${q.get("proxyID") ?? ""}"; see /debug/syncz for ids`, proxies: ads.connections().map((c) => c.node.id) } };
      }
      return { body: state.resources(proxy.node) };
    },
    // The dashboard's API and page (src/control/dashboard/routes.ts).
    ...dashboard,
  };
}

function withSpec<T extends object>(status: T, spec: unknown): T & { spec?: unknown } {
  return spec === undefined ? status : { ...status, spec };
}
