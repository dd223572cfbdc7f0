// Which DestinationRule applies to a service for a given proxy, and the traffic policy it
// gives one cluster (top level -> top-level port settings -> subset -> subset port settings).
import type { ConfigObject } from "../api/types.ts";
import type { Service } from "../registry/types.ts";
import { num, obj, objs, str, strMap, type Obj } from "../registry/read-spec.ts";
import { compareObjects, configVisible, hostMatches, hostSpecificity, resolveHost } from "./hosts.ts";
import type { MeshConfig } from "./mesh-config.ts";

export interface AppliedRule {
  rule: ConfigObject;
  /** The rule's host, fully qualified. */
  host: string;
}

export interface Subset {
  name: string;
  labels: Record<string, string>;
  trafficPolicy?: Obj;
}

/** The policy fields Istio merges as whole units. */
export interface TrafficPolicy {
  connectionPool?: Obj;
  loadBalancer?: Obj;
  outlierDetection?: Obj;
  tls?: Obj;
}

function mostSpecific(rules: ConfigObject[], hostname: string, mesh: MeshConfig): AppliedRule | undefined {
  let best: AppliedRule | undefined;
  let bestScore = -1;
  for (const rule of [...rules].sort(compareObjects)) {
    const raw = str(rule.spec.host);
    if (!raw) continue;
    const host = resolveHost(raw, rule.metadata.namespace, mesh.domainSuffix);
    if (!hostMatches(host, hostname)) continue;
    const score = hostSpecificity(host);
    if (score > bestScore) {
      best = { rule, host };
      bestScore = score;
    }
  }
  return best;
}

/**
 * Istio's lookup order: a rule in the proxy's own namespace, then one exported from the
 * service's namespace, then one exported from the root namespace. Within a namespace the
 * most specific host wins (ties: first by name).
 */
export function findDestinationRule(objects: readonly ConfigObject[], proxyNamespace: string, service: Service, mesh: MeshConfig): AppliedRule | undefined {
  const rules = objects.filter((o) => o.kind === "DestinationRule" && !obj(o.spec.workloadSelector));
  const inNamespace = (ns: string, mustBeVisible: boolean) =>
    rules.filter((r) => r.metadata.namespace === ns && (!mustBeVisible || configVisible(r, proxyNamespace)));
  const order: [string, boolean][] = [
    [proxyNamespace, false],
    [service.namespace, true],
    [mesh.rootNamespace, true],
  ];
  const seen = new Set<string>();
  for (const [ns, mustBeVisible] of order) {
    if (seen.has(ns)) continue;
    seen.add(ns);
    const found = mostSpecific(inNamespace(ns, mustBeVisible), service.hostname, mesh);
    if (found) return found;
  }
  return undefined;
}

export function subsetsOf(rule: ConfigObject): Subset[] {
  const out: Subset[] = [];
  for (const s of objs(rule.spec.subsets)) {
    const name = str(s.name);
    if (!name) continue;
    const tp = obj(s.trafficPolicy);
    out.push({ name, labels: strMap(s.labels), ...(tp ? { trafficPolicy: tp } : {}) });
  }
  return out;
}

function pickPolicy(p: Obj | undefined): TrafficPolicy {
  if (!p) return {};
  const out: TrafficPolicy = {};
  const cp = obj(p.connectionPool), lb = obj(p.loadBalancer), od = obj(p.outlierDetection), tls = obj(p.tls);
  if (cp) out.connectionPool = cp;
  if (lb) out.loadBalancer = lb;
  if (od) out.outlierDetection = od;
  if (tls) out.tls = tls;
  return out;
}

/** Port-level settings replace the four fields wholesale (Istio: they do not inherit). */
function applyPortLevel(base: TrafficPolicy, p: Obj | undefined, port: number): TrafficPolicy {
  for (const pl of objs(p?.portLevelSettings)) {
    if (num(obj(pl.port)?.number) === port) return pickPolicy(pl);
  }
  return base;
}

/** The effective policy for one cluster: Istio's MergeTrafficPolicy. */
export function mergeTrafficPolicy(topLevel: Obj | undefined, subset: Obj | undefined, port: number): TrafficPolicy {
  let merged = applyPortLevel(pickPolicy(topLevel), topLevel, port);
  if (subset) {
    merged = { ...merged, ...pickPolicy(subset) };
    merged = applyPortLevel(merged, subset, port);
  }
  return merged;
}
