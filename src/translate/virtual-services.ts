// Which VirtualService routes a service for a sidecar or proxyless client: one bound to the
// mesh (no gateways, or "mesh" among them), visible to the proxy's namespace, whose host
// matches the service. Exact host beats wildcard; then the proxy's own namespace; then name.
import type { ConfigObject } from "../api/types.ts";
import type { Service } from "../registry/types.ts";
import { arr, strs } from "../registry/read-spec.ts";
import { compareObjects, configVisible, hostMatches, hostSpecificity, resolveHost } from "./hosts.ts";
import type { MeshConfig } from "./mesh-config.ts";

export function appliesToMesh(vs: ConfigObject): boolean {
  const gateways = strs(vs.spec.gateways);
  return gateways.length === 0 || gateways.includes("mesh");
}

/** The VirtualService's hosts, fully qualified relative to its namespace. */
export function virtualServiceHosts(vs: ConfigObject, mesh: MeshConfig): string[] {
  return strs(vs.spec.hosts).map((h) => resolveHost(h, vs.metadata.namespace, mesh.domainSuffix));
}

/** Mesh-bound VirtualServices visible to a proxy in `namespace`, in a stable order. */
export function meshVirtualServices(objects: readonly ConfigObject[], namespace: string): ConfigObject[] {
  return objects
    .filter((o) => o.kind === "VirtualService" && appliesToMesh(o) && configVisible(o, namespace) && arr(o.spec.http).length > 0)
    .sort(compareObjects);
}

export function virtualServiceFor(candidates: readonly ConfigObject[], service: Service, proxyNamespace: string, mesh: MeshConfig): ConfigObject | undefined {
  let best: ConfigObject | undefined;
  let bestScore = -1;
  for (const vs of candidates) {
    let score = -1;
    for (const h of virtualServiceHosts(vs, mesh)) {
      if (hostMatches(h, service.hostname)) score = Math.max(score, hostSpecificity(h));
    }
    if (score < 0) continue;
    // The proxy's own namespace wins a tie between equally specific hosts.
    const own = vs.metadata.namespace === proxyNamespace;
    const bestOwn = best?.metadata.namespace === proxyNamespace;
    if (score > bestScore || (score === bestScore && own && !bestOwn)) {
      best = vs;
      bestScore = score;
    }
  }
  return best;
}
