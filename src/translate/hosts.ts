// Host names as Istio resolves and matches them, and which services a proxy may see.
import type { ConfigObject } from "../api/types.ts";
import type { Registry, Service } from "../registry/types.ts";
import { strs } from "../registry/read-spec.ts";

/**
 * A host written in a VirtualService or DestinationRule, made fully qualified the Istio way:
 * a name without a dot is short for "<name>.<namespace>.svc.<domainSuffix>", relative to the
 * namespace of the object that wrote it; anything else (including wildcards) stays as written.
 */
export function resolveHost(host: string, namespace: string, domainSuffix: string): string {
  if (host === "*" || host.includes(".")) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** Does a (possibly wildcard) pattern match a concrete host? "*" matches all; "*.x" any suffix. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (pattern === "*") return true;
  if (pattern.startsWith("*")) return host.endsWith(pattern.slice(1));
  return false;
}

/** Higher is more specific: exact beats any wildcard; longer wildcard beats shorter. */
export function hostSpecificity(pattern: string): number {
  if (!pattern.startsWith("*")) return Number.MAX_SAFE_INTEGER;
  return pattern.length;
}

/** Is something exported to these namespaces visible from `namespace`? */
export function exportedTo(exportTo: string[] | undefined, ownerNamespace: string, namespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === "*") return true;
    if (e === "." && ownerNamespace === namespace) return true;
    if (e === namespace) return true;
  }
  return false;
}

export function serviceVisible(s: Service, namespace: string): boolean {
  return exportedTo(s.exportTo, s.namespace, namespace);
}

/** Is a VirtualService / DestinationRule visible to a proxy in `namespace` (spec.exportTo)? */
export function configVisible(o: ConfigObject, namespace: string): boolean {
  const exportTo = Array.isArray(o.spec.exportTo) ? strs(o.spec.exportTo) : undefined;
  return exportedTo(exportTo, o.metadata.namespace, namespace);
}

/**
 * Services a proxy in `namespace` can see by exportTo alone, sorted by hostname. What a proxy is
 * actually sent is further narrowed by its Sidecar's egress hosts: use scopedServices()
 * (sidecar-scope.ts) for anything that becomes routes, clusters or endpoints.
 */
export function visibleServices(registry: Registry, namespace: string): Service[] {
  return [...registry.services.values()]
    .filter((s) => serviceVisible(s, namespace))
    .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

/** Compare config objects by namespace/name, for deterministic tie-breaks. */
export function compareObjects(a: ConfigObject, b: ConfigObject): number {
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Istio cluster names. */
export function outboundClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}
