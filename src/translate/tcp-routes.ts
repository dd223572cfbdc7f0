// VirtualService `tcp:` routes -> where a TCP connection to one service port goes, as the
// cluster specifier of a tcp_proxy (one cluster, or weighted_clusters). Istio's rules: the
// VirtualService bound to the mesh that is most specific for the service; its first rule
// with no match, or with a match that applies (port, sourceLabels, sourceNamespace, gateways
// naming "mesh"), wins; no rule applies: the service port's own cluster.
import type { ConfigObject } from "../api/types.ts";
import type { Service } from "../registry/types.ts";
import type { TcpProxy } from "../xds/envoy-types.ts";
import { arr, labelsMatch, num, obj, objs, str, strMap, strs, type Obj } from "../registry/read-spec.ts";
import { compareObjects, configVisible, outboundClusterName, resolveHost, serviceVisible } from "./hosts.ts";
import type { ViewInput } from "./input.ts";
import { appliesToMesh, virtualServiceFor } from "./virtual-services.ts";

/** What TCP and TLS routing reads of the proxy: its namespace and (for sourceLabels) labels. */
export interface TcpRouteProxyView {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** The cluster specifier of a tcp_proxy. */
export type TcpTarget = Pick<TcpProxy, "cluster" | "weighted_clusters">;

/** Mesh-bound VirtualServices visible to `namespace` that have routes of `kind`. */
export function meshVirtualServicesWith(objects: readonly ConfigObject[], namespace: string, kind: "tcp" | "tls"): ConfigObject[] {
  return objects
    .filter((o) => o.kind === "VirtualService" && appliesToMesh(o) && configVisible(o, namespace) && arr(o.spec[kind]).length > 0)
    .sort(compareObjects);
}

/** Every label key a tcp or tls match's sourceLabels names (the listener view must carry them). */
export function tcpSourceLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) {
    if (o.kind !== "VirtualService") continue;
    for (const rule of [...objs(o.spec.tcp), ...objs(o.spec.tls)]) {
      for (const m of objs(rule.match)) for (const k of Object.keys(obj(m.sourceLabels) ?? {})) keys.add(k);
    }
  }
  return keys;
}

/** Does a tcp/tls match entry apply to this proxy on listener port `port`? */
export function l4MatchApplies(m: Obj, port: number, proxy: TcpRouteProxyView): boolean {
  const p = num(m.port);
  if (p !== undefined && p !== 0 && p !== port) return false;
  const gateways = strs(m.gateways);
  if (gateways.length) return gateways.includes("mesh");
  const src = obj(m.sourceLabels);
  if (src && !labelsMatch(strMap(src), proxy.labels as Record<string, string>)) return false;
  const ns = str(m.sourceNamespace);
  return !ns || ns === proxy.namespace;
}

/** A rule applies when it has no match, or one of its matches applies. */
export function l4RuleApplies(rule: Obj, port: number, proxy: TcpRouteProxyView): boolean {
  const matches = objs(rule.match);
  return matches.length === 0 || matches.some((m) => l4MatchApplies(m, port, proxy));
}

/** A route destination -> its cluster; the port defaults to the service's only port, else the listener's. */
function destinationCluster(input: ViewInput<TcpRouteProxyView>, vs: ConfigObject, dest: Obj, listenerPort: number): string | undefined {
  const raw = str(dest.host);
  if (!raw) return undefined;
  const host = resolveHost(raw, vs.metadata.namespace, input.mesh.domainSuffix);
  const svc = input.registry.services.get(host);
  const visible = svc && serviceVisible(svc, input.proxy.namespace) ? svc : undefined;
  const port = num(obj(dest.port)?.number) ?? (visible?.ports.length === 1 ? visible.ports[0]!.number : listenerPort);
  return outboundClusterName(port, str(dest.subset) ?? "", host);
}

/** The route's destinations as a tcp_proxy target; undefined when none has a weight. */
export function targetOfRoutes(input: ViewInput<TcpRouteProxyView>, vs: ConfigObject, routes: unknown, listenerPort: number): TcpTarget | undefined {
  const dests = objs(routes);
  const clusters: { name: string; weight: number }[] = [];
  for (const d of dests) {
    const dest = obj(d.destination);
    const name = dest && destinationCluster(input, vs, dest, listenerPort);
    if (!name) continue;
    const weight = num(d.weight) ?? (dests.length === 1 ? 100 : 0);
    if (weight <= 0) continue; // Istio drops zero-weight destinations
    const same = clusters.find((c) => c.name === name);
    if (same) same.weight += weight;
    else clusters.push({ name, weight });
  }
  if (clusters.length === 0) return undefined;
  if (clusters.length === 1) return { cluster: clusters[0]!.name };
  return { weighted_clusters: { clusters } };
}

/** Where TCP connections to `service` on `port` go for this proxy. */
export function tcpTarget(input: ViewInput<TcpRouteProxyView>, service: Service, port: number): TcpTarget {
  const vs = virtualServiceFor(meshVirtualServicesWith(input.objects, input.proxy.namespace, "tcp"), service, input.proxy.namespace, input.mesh);
  if (vs) {
    for (const rule of objs(vs.spec.tcp)) {
      if (!l4RuleApplies(rule, port, input.proxy)) continue;
      const t = targetOfRoutes(input, vs, rule.route, port);
      if (t) return t;
    }
  }
  return { cluster: outboundClusterName(port, "", service.hostname) };
}
