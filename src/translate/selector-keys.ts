// The label keys that workload selectors of the security kinds name. A proxy's listener view
// keeps only these labels (plus Telemetry's), so proxies that differ in other labels share
// one translation.
import type { ConfigObject } from "../api/types.ts";
import { labelsMatch, obj, strMap } from "../registry/read-spec.ts";

const SELECTING_KINDS = new Set(["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"]);

export function securityLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) {
    if (!SELECTING_KINDS.has(o.kind)) continue;
    for (const k of Object.keys(obj(obj(o.spec.selector)?.matchLabels) ?? {})) keys.add(k);
  }
  return keys;
}

/**
 * Whether a selector-based security policy (AuthorizationPolicy, RequestAuthentication) of
 * `kind` applies to a workload: its own namespace or the root namespace (mesh-wide), with a
 * selector that matches or none. Policies with targetRef(s) are for waypoints and gateways.
 */
export function appliesToWorkload(o: ConfigObject, kind: string, workload: { namespace: string; labels: Readonly<Record<string, string>> }, rootNamespace: string): boolean {
  if (o.kind !== kind) return false;
  const spec = o.spec ?? {};
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined) return false;
  const ns = o.metadata.namespace;
  if (ns !== workload.namespace && ns !== rootNamespace) return false;
  return labelsMatch(strMap(obj(spec.selector)?.matchLabels), workload.labels as Record<string, string>);
}

/** Plain code-unit order, for sorting names. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
