// RDS. A sidecar gets one RouteConfiguration, "http_proxy", with a virtual host per HTTP port
// of the services in its scope (visible, and imported by its Sidecar's egress hosts), and last
// Istio's catch-all for any other host: "allow_any" (PassthroughCluster) or "block_all" (502)
// by the outbound traffic policy. A proxyless gRPC client gets one RouteConfiguration per
// service port, named "<fqdn>:<port>" like its API listener. Inbound routes live inline in the
// listeners.
import type { Service, ServicePort } from "../registry/types.ts";
import type { RouteConfiguration, VirtualHost } from "../xds/envoy-types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { isHttpLike } from "../registry/protocol.ts";
import type { ConfigObject } from "../api/types.ts";
import { byName, type ViewInput, type WarningSink } from "./input.ts";
import { defaultRoute, routesFromVirtualService, type VirtualHostContext } from "./route-builder.ts";
import { virtualServiceFor } from "./virtual-services.ts";
import { proxyScope, scopedVirtualServices } from "./sidecar-scope.ts";
import { catchAllVirtualHost } from "./passthrough-clusters.ts";

export const HTTP_PROXY_ROUTE_NAME = "http_proxy";

/**
 * What RDS reads of the proxy: its type, its namespace (visibility, short host names,
 * sourceNamespace) and its labels, which only VirtualService `sourceLabels` and Sidecar
 * workloadSelectors look at.
 */
export type RouteProxyView = Pick<ProxyNode, "type" | "namespace" | "labels">;

/**
 * The route view of a proxy with its labels narrowed to `labelKeys` (sourceLabelKeys and
 * sidecarLabelKeys of the same config): labels no sourceLabels or Sidecar selector names cannot
 * change routes, and leaving them out lets pods of different workloads in one namespace share
 * one RouteConfiguration.
 */
export function routeView(p: ProxyNode, labelKeys: ReadonlySet<string>): RouteProxyView {
  const labels: Record<string, string> = {};
  for (const k of [...labelKeys].sort()) if (Object.hasOwn(p.labels, k)) labels[k] = p.labels[k]!;
  return { type: p.type, namespace: p.namespace, labels };
}

/** The whole view as a string: proxies with equal keys get equal routes. */
export function routeViewKey(v: RouteProxyView): string {
  const labels = Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([v.type, v.namespace, labels]);
}

/** "<fqdn>:<port>": the name of a service port's virtual host, gRPC listener and route. */
export function servicePortName(s: Service, port: number): string {
  return `${s.hostname}:${port}`;
}

/** Names a client may use for a service: its FQDN and aliases; a bare name only in its namespace. */
function hostNames(s: Service, proxyNamespace: string): string[] {
  const names = [s.hostname];
  for (const a of s.aliases) if (a.includes(".") || s.namespace === proxyNamespace) names.push(a);
  return names;
}

function routesFor(input: ViewInput<RouteProxyView>, vses: readonly ConfigObject[], service: Service, port: ServicePort, grpc: boolean, warnings?: WarningSink) {
  const ctx: VirtualHostContext = { input, service, port: port.number, grpc, ...(warnings ? { warnings } : {}) };
  const vs = virtualServiceFor(vses, service, input.proxy.namespace, input.mesh);
  return vs ? routesFromVirtualService(ctx, vs) : [defaultRoute(ctx)];
}

function sidecarRouteConfig(input: ViewInput<RouteProxyView>, warnings?: WarningSink): RouteConfiguration {
  const { scope, services } = proxyScope(input);
  const vses = scopedVirtualServices(input.objects, input.mesh, input.proxy.namespace, scope);
  const used = new Set<string>();
  const vhosts: VirtualHost[] = [];
  for (const s of services) {
    for (const port of s.ports) {
      if (!isHttpLike(port.protocol)) continue;
      const candidates = hostNames(s, input.proxy.namespace).flatMap((h) => (port.number === 80 ? [`${h}:80`, h] : [`${h}:${port.number}`]));
      // Envoy rejects a route config in which two virtual hosts share a domain.
      const domains = candidates.filter((d) => !used.has(d));
      if (domains.length === 0) continue;
      for (const d of domains) used.add(d);
      vhosts.push({ name: servicePortName(s, port.number), domains, routes: routesFor(input, vses, s, port, false, warnings) });
    }
  }
  vhosts.push(catchAllVirtualHost(scope.outboundTrafficPolicy));
  return { name: HTTP_PROXY_ROUTE_NAME, virtual_hosts: vhosts.sort(byName), validate_clusters: { value: false } };
}

function grpcRouteConfigs(input: ViewInput<RouteProxyView>, warnings?: WarningSink): RouteConfiguration[] {
  const { scope, services } = proxyScope(input);
  const vses = scopedVirtualServices(input.objects, input.mesh, input.proxy.namespace, scope);
  const out: RouteConfiguration[] = [];
  for (const s of services) {
    for (const port of s.ports) {
      const name = servicePortName(s, port.number);
      const names = hostNames(s, input.proxy.namespace);
      const domains = [...names.map((h) => `${h}:${port.number}`), ...names];
      out.push({ name, virtual_hosts: [{ name, domains, routes: routesFor(input, vses, s, port, true, warnings) }] });
    }
  }
  return out;
}

export function translateRoutes(input: ViewInput<RouteProxyView>, warnings?: WarningSink): RouteConfiguration[] {
  switch (input.proxy.type) {
    case "sidecar":
      return [sidecarRouteConfig(input, warnings)];
    case "grpc":
      return grpcRouteConfigs(input, warnings).sort(byName);
    default:
      return []; // gateways ("router") are not translated yet
  }
}
