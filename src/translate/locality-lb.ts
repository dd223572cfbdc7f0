// Istio's locality load balancing, applied to one proxy's load assignment: priorities relative
// to where the proxy runs (failover, failoverPriority) or locality weights (distribute). It
// follows pilot's loadbalancer package:
// - the setting is the DestinationRule's localityLbSetting, unless it says enabled: false;
//   without one, the mesh default (Istio's is enabled, with no rules);
// - distribute, when given, only sets locality weights (localities no rule sends to are
//   emptied); otherwise failover applies, and only when the cluster has outlier detection
//   (without it Envoy would never see a priority fail);
// - failover: priority 0 = same region/zone/subzone, 1 = same region and zone, 2 = same
//   region, 3 = elsewhere, 4 = elsewhere and not the region a `failover` rule names for the
//   proxy's region; priorities are then renumbered 0..N without gaps;
// - failoverPriority: endpoints whose labels match the proxy's on all the listed labels come
//   first, then those matching all but the last, and so on ("label=value" compares with value
//   instead of the proxy's own).
import type { Endpoint } from "../registry/types.ts";
import type { ClusterLoadAssignment, LocalityLbEndpoints } from "../xds/envoy-types.ts";
import { num, obj, objs, str, strs, type Obj } from "../registry/read-spec.ts";
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL, splitLocality } from "../registry/locality.ts";
import type { TrafficPolicy } from "./destination-rules.ts";

export interface LocalityLbSetting {
  distribute: { from: string; to: [string, number][] }[];
  failover: { from: string; to: string }[];
  failoverPriority: string[];
}

/** Istio's mesh default: enabled, no rules (failover by locality once outlier detection is set). */
const MESH_DEFAULT: LocalityLbSetting = { distribute: [], failover: [], failoverPriority: [] };

function enabledFlag(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  const o = obj(v);
  return typeof o?.value === "boolean" ? o.value : undefined;
}

/** The setting in force for a cluster's policy; undefined when turned off. */
export function localityLbSettingOf(policy: TrafficPolicy): LocalityLbSetting | undefined {
  const raw = obj(policy.loadBalancer?.localityLbSetting);
  if (!raw) return MESH_DEFAULT;
  if (enabledFlag(raw.enabled) === false) return undefined;
  return {
    distribute: objs(raw.distribute).map((d) => ({
      from: str(d.from) ?? "",
      to: Object.entries(obj(d.to) ?? {}).flatMap(([loc, w]): [string, number][] => (num(w) !== undefined ? [[loc, num(w)!]] : [])),
    })),
    failover: objs(raw.failover).map((f) => ({ from: str(f.from) ?? "", to: str(f.to) ?? "" })),
    failoverPriority: strs(raw.failoverPriority),
  };
}

/** Istio sets locality_weighted_lb_config when distribute is used, or failover rules with outlier detection. */
export function usesLocalityWeights(setting: LocalityLbSetting | undefined, outlierDetection: boolean): boolean {
  if (!setting) return false;
  return setting.distribute.length > 0 || (outlierDetection && (setting.failover.length > 0 || setting.failoverPriority.length > 0));
}

/** The label names (before any "=value") every localityLbSetting.failoverPriority lists. */
export function failoverPriorityLabelKeys(policies: Iterable<Obj | undefined>): Set<string> {
  const keys = new Set<string>();
  for (const lb of policies) for (const entry of strs(obj(lb?.localityLbSetting)?.failoverPriority)) keys.add(entry.split("=")[0]);
  return keys;
}

/** Rule locality ("region/zone/subzone", "*" or empty parts matching anything below the region) vs a locality. */
function localityMatches(locality: string, rule: string): boolean {
  const l = splitLocality(locality);
  const r = splitLocality(rule);
  return (r.region === "*" || r.region === l.region) &&
    (r.zone === "*" || r.zone === "" || r.zone === l.zone) &&
    (r.subzone === "*" || r.subzone === "" || r.subzone === l.subzone);
}

function localityPriority(proxy: string, endpoints: string): number {
  const p = splitLocality(proxy);
  const e = splitLocality(endpoints);
  if (p.region !== e.region) return 3;
  if (p.zone !== e.zone) return 2;
  return p.subzone === e.subzone ? 0 : 1;
}

/** "region/zone/subzone" of a LocalityLbEndpoints. */
function localityKey(l: LocalityLbEndpoints): string {
  return `${l.locality?.region ?? ""}/${l.locality?.zone ?? ""}/${l.locality?.sub_zone ?? ""}`;
}

/** Renumbers priorities 0..N in their order, without gaps. */
function compactPriorities(groups: LocalityLbEndpoints[]): void {
  const order = [...new Set(groups.map((g) => g.priority ?? 0))].sort((a, b) => a - b);
  for (const g of groups) {
    const p = order.indexOf(g.priority ?? 0);
    if (p > 0) g.priority = p;
    else delete g.priority;
  }
}

function applyDistribute(groups: LocalityLbEndpoints[], proxyLocality: string, rules: LocalityLbSetting["distribute"]): void {
  const rule = rules.find((r) => localityMatches(proxyLocality, r.from));
  if (!rule) return;
  const unmatched = new Set(groups.map((_, i) => i));
  for (const [to, weight] of rule.to) {
    const hit = [...unmatched].filter((i) => localityMatches(localityKey(groups[i]), to));
    const total = hit.reduce((s, i) => s + (groups[i].load_balancing_weight?.value ?? 1), 0);
    for (const i of hit) {
      unmatched.delete(i);
      // A wildcard matching several localities splits the rule's weight in proportion to theirs.
      const share = ((groups[i].load_balancing_weight?.value ?? 1) * weight) / total;
      if (share > 0) groups[i].load_balancing_weight = { value: Math.ceil(share) };
    }
  }
  for (const i of unmatched) groups[i].lb_endpoints = [];
}

function applyFailover(groups: LocalityLbEndpoints[], proxyLocality: string, rules: LocalityLbSetting["failover"]): void {
  const region = splitLocality(proxyLocality).region;
  for (const g of groups) {
    let p = localityPriority(proxyLocality, localityKey(g));
    if (p === 3) {
      const rule = rules.find((r) => r.from === region);
      if (rule && (g.locality?.region ?? "") !== rule.to) p = 4;
    }
    g.priority = (g.priority ?? 0) * 5 + p;
  }
  compactPriorities(groups);
}

/** An endpoint's labels plus the topology labels of its locality (Istio augments them the same way). */
function topologyLabels(labels: Readonly<Record<string, string>>, locality: string | undefined): Record<string, string> {
  const { region, zone, subzone } = splitLocality(locality);
  return { ...(region ? { [REGION_LABEL]: region } : {}), ...(zone ? { [ZONE_LABEL]: zone } : {}), ...(subzone ? { [SUBZONE_LABEL]: subzone } : {}), ...labels };
}

function applyFailoverPriority(groups: LocalityLbEndpoints[], members: readonly (readonly Endpoint[])[], proxyLabels: Readonly<Record<string, string>>, priorities: readonly string[]): LocalityLbEndpoints[] {
  const names = priorities.map((p) => p.split("=")[0]);
  const wanted = priorities.map((p, j) => (p.includes("=") ? p.slice(p.indexOf("=") + 1) : proxyLabels[names[j]]));
  const out: LocalityLbEndpoints[] = [];
  groups.forEach((g, gi) => {
    const byPriority = new Map<number, number[]>();
    (members[gi] ?? []).forEach((e, k) => {
      const labels = topologyLabels(e.labels, e.locality);
      const miss = names.findIndex((n, j) => labels[n] !== wanted[j]);
      const p = miss < 0 ? 0 : names.length - miss;
      byPriority.set(p, [...(byPriority.get(p) ?? []), k]);
    });
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const lbEndpoints = byPriority.get(p)!.map((k) => g.lb_endpoints[k]);
      out.push({
        ...g,
        lb_endpoints: lbEndpoints,
        load_balancing_weight: { value: lbEndpoints.reduce((s, e) => s + (e.load_balancing_weight?.value ?? 1), 0) },
        priority: p,
      });
    }
  });
  compactPriorities(out);
  return out;
}

export interface LocalityProxy {
  /** "region/zone/subzone" of the proxy; "" when unknown. */
  locality: string;
  /** The proxy's labels (at least those failoverPriority names). */
  labels: Readonly<Record<string, string>>;
}

/**
 * The load assignment as this proxy should see it. `members[i]` are the registry endpoints
 * behind `cla.endpoints[i]`, in the same order. Returns a new object; `cla` is left as it is.
 */
export function applyLocalityLb(cla: ClusterLoadAssignment, members: readonly (readonly Endpoint[])[], proxy: LocalityProxy, setting: LocalityLbSetting | undefined, outlierDetection: boolean): ClusterLoadAssignment {
  if (!setting) return cla;
  let groups = cla.endpoints.map((g) => ({ ...g }));
  if (setting.distribute.length > 0) {
    applyDistribute(groups, proxy.locality, setting.distribute);
  } else if (outlierDetection) {
    if (setting.failoverPriority.length > 0) {
      if (Object.keys(proxy.labels).length > 0) groups = applyFailoverPriority(groups, members, proxy.labels, setting.failoverPriority);
      if (setting.failover.length > 0) applyFailover(groups, proxy.locality, setting.failover);
    } else {
      applyFailover(groups, proxy.locality, setting.failover);
    }
  } else {
    return cla;
  }
  return { ...cla, endpoints: groups };
}
