// PeerAuthentication: which mTLS mode a workload's inbound port runs, as Istio decides it.
// The most specific policy wins: workload (selector) over namespace over mesh (root
// namespace, no selector); a policy with a selector in the root namespace is ignored. UNSET (or no mode) inherits from the next level up; a port-level
// setting inherits from its policy's own mode. With no policy at all: PERMISSIVE.
// Among several policies at the same level the oldest wins, as in Istio (creation time, then
// name, so the choice is stable when files carry no timestamps).
import type { ConfigObject } from "../api/types.ts";
import { labelsMatch, obj, str, type Obj } from "../registry/read-spec.ts";

export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

export interface PeerAuthWorkload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

function modeOf(v: unknown): MtlsMode | undefined {
  const m = str(obj(v)?.mode);
  return m === "STRICT" || m === "PERMISSIVE" || m === "DISABLE" ? m : undefined;
}

/** Milliseconds since the epoch; no (or an unreadable) timestamp counts as the oldest, as Go's zero time. */
function createdAt(o: ConfigObject): number {
  const t = Date.parse(String((o.metadata as { creationTimestamp?: string }).creationTimestamp ?? ""));
  return Number.isNaN(t) ? -Infinity : t;
}

function oldestFirst(a: ConfigObject, b: ConfigObject): number {
  // Fix: compared as instants, not as text ("10:00+02:00" is older than "09:00Z"; ".5Z" is later than "Z").
  const ta = createdAt(a);
  const tb = createdAt(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function selectorLabels(spec: Obj): Record<string, string> | undefined {
  const sel = obj(spec.selector);
  const ml = obj(sel?.matchLabels);
  if (!ml || Object.keys(ml).length === 0) return undefined;
  return ml as Record<string, string>;
}

/** The policies that apply to the workload, most specific level first: [workload, namespace, mesh]. */
export function applicablePeerAuthentications(objects: readonly ConfigObject[], w: PeerAuthWorkload, rootNamespace: string): (ConfigObject | undefined)[] {
  const pas = objects.filter((o) => o.kind === "PeerAuthentication").sort(oldestFirst);
  const workloadLevel = pas.find((o) => {
    // Fix: Istio ignores selector policies in the root namespace, even for workloads there
    // (ComposePeerAuthentication; "ignored when deployed in the root namespace" in its reference).
    if (o.metadata.namespace !== w.namespace || o.metadata.namespace === rootNamespace) return false;
    const sel = selectorLabels(o.spec);
    return sel !== undefined && labelsMatch(sel, w.labels);
  });
  const namespaceLevel = pas.find((o) => o.metadata.namespace === w.namespace && selectorLabels(o.spec) === undefined);
  const meshLevel = pas.find((o) => o.metadata.namespace === rootNamespace && selectorLabels(o.spec) === undefined);
  return [workloadLevel, namespaceLevel, meshLevel];
}

/** The effective mode of one inbound port (the workload's container port). */
export function effectiveMtlsMode(objects: readonly ConfigObject[], w: PeerAuthWorkload, port: number, rootNamespace: string): MtlsMode {
  const [workloadLevel, namespaceLevel, meshLevel] = applicablePeerAuthentications(objects, w, rootNamespace);
  const inherited = modeOf(namespaceLevel?.spec.mtls) ?? modeOf(meshLevel?.spec.mtls) ?? "PERMISSIVE";
  // A namespace-level policy in the root namespace is also the mesh policy; both lookups agree then.
  if (!workloadLevel) return inherited;
  const own = modeOf(workloadLevel.spec.mtls) ?? inherited;
  const portLevel = obj(workloadLevel.spec.portLevelMtls)?.[String(port)];
  return modeOf(portLevel) ?? own;
}
