// Priority levels and locality weights, as Envoy balances a cluster whose EDS endpoints carry
// them (Istio's locality failover and distribute settings arrive this way).
//
// Priorities: each level's health is the share of its hosts that may be used (healthy, not
// ejected) times the overprovisioning factor 1.4, capped at 100 %. Level 0 takes as much of
// the load as its health, the next level as much of the rest as its own health, and so on;
// when all levels together are under 100 % the loads are scaled up to add to 100. So a level
// keeps all traffic until fewer than ~71 % of its hosts are usable, then spills over
// gradually, and traffic leaves it entirely only when none is usable. There is no panic mode
// (Istio turns it off when it sets outlier detection): no usable host means no host.
//
// Localities (locality_weighted_lb_config): within a level, a locality is chosen in
// proportion to its weight times its own availability (usable share x 1.4, at most 1), then a
// host within it by the cluster's policy; a locality without a weight gets nothing. Hash
// policies instead fold the locality weight into each host's weight on one ring or table.
import type { EndpointAddress } from "../state/types.ts";
import type { Balancer } from "./balancer.ts";

/** Envoy's default overprovisioning factor, in percent. */
export const OVERPROVISIONING_FACTOR = 140;

/** Health of a level or locality in whole percent: usable/total x 1.4, at most 100. */
export function levelHealth(usable: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * usable) / total));
}

/**
 * Envoy's priority load: percentages (summing to 100, or all 0 when nothing is usable) that
 * each level receives, from the levels' health in priority order.
 */
export function priorityLoads(health: readonly number[]): number[] {
  const loads = health.map(() => 0);
  const total = Math.min(100, health.reduce((a, b) => a + b, 0));
  if (total === 0) return loads;
  let left = 100;
  let firstHealthy = -1;
  for (let i = 0; i < health.length; i++) {
    if (firstHealthy < 0 && health[i] > 0) firstHealthy = i;
    loads[i] = Math.min(left, Math.floor((health[i] * 100) / total));
    left -= loads[i];
  }
  loads[firstHealthy] += left; // what rounding left over goes to the first usable level
  return loads;
}

function groupBy(list: readonly EndpointAddress[], key: (e: EndpointAddress) => string | number): Map<string | number, EndpointAddress[]> {
  const out = new Map<string | number, EndpointAddress[]>();
  for (const e of list) {
    const k = key(e);
    const g = out.get(k);
    if (g) g.push(e);
    else out.set(k, [e]);
  }
  return out;
}

const priorityOf = (e: EndpointAddress): number => e.priority ?? 0;
const localityOf = (e: EndpointAddress): string => e.locality ?? "";

/** Whether the hosts span more than one priority level. */
export function hasSeveralPriorities(all: readonly EndpointAddress[]): boolean {
  for (const e of all) if (priorityOf(e) !== priorityOf(all[0])) return true;
  return false;
}

/** Builds the balancer of one level (or locality) from its usable hosts and all its hosts. */
export type LevelFactory = (usable: EndpointAddress[], all: EndpointAddress[]) => Balancer;

/** Picks a priority level by the load it should carry, then a host within it. */
export class PriorityBalancer implements Balancer {
  /** Levels with some load; `upTo` is the cumulative load (percent) that ends at this level. */
  private readonly levels: { upTo: number; balancer: Balancer }[] = [];

  constructor(usable: readonly EndpointAddress[], all: readonly EndpointAddress[], factory: LevelFactory) {
    const allByLevel = groupBy(all, priorityOf);
    const usableByLevel = groupBy(usable, priorityOf);
    const priorities = [...allByLevel.keys()].sort((a, b) => Number(a) - Number(b));
    const health = priorities.map((p) => levelHealth(usableByLevel.get(p)?.length ?? 0, allByLevel.get(p)!.length));
    const loads = priorityLoads(health);
    let upTo = 0;
    priorities.forEach((p, i) => {
      if (loads[i] === 0) return;
      upTo += loads[i];
      this.levels.push({ upTo, balancer: factory(usableByLevel.get(p) ?? [], allByLevel.get(p)!) });
    });
  }

  /** The percentage of requests each level gets, highest priority first (for tests). */
  get loads(): number[] {
    return this.levels.map((l, i) => l.upTo - (i === 0 ? 0 : this.levels[i - 1].upTo));
  }

  pick(avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined {
    const levels = this.levels;
    if (levels.length === 0) return undefined;
    // With a hash the level is a function of it too (Envoy: hash mod 100), so keys stay put.
    const r = hash !== undefined ? Number(hash % 100n) : Math.floor(Math.random() * 100);
    for (const l of levels) if (r < l.upTo) return l.balancer.pick(avoid, hash);
    return levels[levels.length - 1].balancer.pick(avoid, hash);
  }
}

/** Whether any of the hosts' localities has a weight. */
export function hasLocalityWeights(hosts: readonly EndpointAddress[]): boolean {
  for (const e of hosts) if ((e.localityWeight ?? 0) > 0) return true;
  return false;
}

/** Chooses a locality by weight x availability, then a host in it with that locality's balancer. */
export class LocalityBalancer implements Balancer {
  private readonly groups: { upTo: number; balancer: Balancer }[] = [];
  private readonly total: number;

  constructor(usable: readonly EndpointAddress[], all: readonly EndpointAddress[], factory: LevelFactory) {
    const allByLocality = groupBy(all, localityOf);
    let upTo = 0;
    for (const [locality, hosts] of groupBy(usable, localityOf)) {
      const weight = hosts[0].localityWeight ?? 0;
      const availability = levelHealth(hosts.length, allByLocality.get(locality)?.length ?? hosts.length) / 100;
      const effective = weight * availability;
      if (effective <= 0) continue;
      upTo += effective;
      this.groups.push({ upTo, balancer: factory(hosts, allByLocality.get(locality) ?? hosts) });
    }
    this.total = upTo;
  }

  /** Whether some locality can take traffic (otherwise Envoy falls back to all hosts of the level). */
  get usable(): boolean {
    return this.groups.length > 0;
  }

  pick(avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined {
    const g = this.groups;
    if (g.length === 0) return undefined;
    if (g.length === 1) return g[0].balancer.pick(avoid, hash);
    const r = Math.random() * this.total;
    for (const x of g) if (r < x.upTo) return x.balancer.pick(avoid, hash);
    return g[g.length - 1].balancer.pick(avoid, hash);
  }
}

/**
 * Host weights for a hash balancer under locality weighting: each host's share of its
 * locality times the locality's share of the level (Envoy's normalisation for ring hash and
 * Maglev). Hosts of localities without a weight get 0; undefined when no locality has one.
 */
export function localityScaledWeights(hosts: readonly EndpointAddress[]): number[] | undefined {
  if (!hasLocalityWeights(hosts)) return undefined;
  const byLocality = groupBy(hosts, localityOf);
  let localityTotal = 0;
  const hostTotal = new Map<string | number, number>();
  for (const [loc, group] of byLocality) {
    localityTotal += group[0].localityWeight ?? 0;
    hostTotal.set(loc, group.reduce((s, e) => s + e.weight, 0));
  }
  return hosts.map((e) => {
    const lw = e.localityWeight ?? 0;
    const ht = hostTotal.get(localityOf(e)) ?? 0;
    return lw > 0 && ht > 0 ? (e.weight / ht) * (lw / localityTotal) : 0;
  });
}
