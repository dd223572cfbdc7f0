// Translators: (config, registry, proxy, mesh) -> Envoy resources for that proxy. Pure
// functions; each resource type can be regenerated on its own.
import type { ProxyResources } from "../xds/envoy-types.ts";
import type { TranslateInput, WarningSink } from "./input.ts";
import { translateClusters } from "./clusters.ts";
import { translateEndpoints } from "./endpoints.ts";
import { translateListeners } from "./listeners.ts";
import { translateRoutes } from "./routes.ts";

export type { TranslateInput, WarningSink } from "./input.ts";
export type { MeshConfig } from "./mesh-config.ts";
export { DEFAULT_MESH_CONFIG } from "./mesh-config.ts";
export { translateClusters } from "./clusters.ts";
export { translateEndpoints } from "./endpoints.ts";
export { translateListeners } from "./listeners.ts";
export { translateRoutes } from "./routes.ts";
// Per-type proxy views: exactly the proxy fields each translator reads, and a key made of the
// whole view, so a cache can share one translation between proxies with equal views.
export type { SharedInput, ViewInput } from "./input.ts";
export { listenerView, listenerViewKey, type ListenerProxyView } from "./listeners.ts";
export { routeView, routeViewKey, type RouteProxyView } from "./routes.ts";
export { sourceLabelKeys } from "./route-builder.ts";
export { telemetryLabelKeys, telemetryWarnings } from "./telemetry.ts";
export { tracingInUse, tracingWarnings } from "./telemetry-tracing.ts";
export { endpointView, endpointViewKey, failoverPriorityKeys, type EndpointProxyView } from "./endpoints.ts";
export {
  inboundClusters, inboundClusterView, inboundClusterViewKey, mergeClusters, outboundClusters, outboundClusterView, outboundClusterViewKey,
  type InboundClusterProxyView, type OutboundClusterProxyView,
} from "./clusters.ts";

/**
 * Everything one proxy needs, every list sorted by name. Pass `warnings` to collect config
 * that is kept but will fail traffic (e.g. a route to an undefined subset: 503 NC).
 */
export function translate(input: TranslateInput, warnings?: WarningSink): ProxyResources {
  return {
    listeners: translateListeners(input),
    routes: translateRoutes(input, warnings),
    clusters: translateClusters(input, warnings),
    endpoints: translateEndpoints(input),
  };
}
