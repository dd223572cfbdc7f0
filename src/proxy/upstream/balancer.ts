// What every load balancer is, and the small pieces they share.
import type { EndpointAddress } from "../state/types.ts";

export interface Balancer {
  /**
   * An endpoint, avoiding those in `avoid` when another one is available; undefined when the
   * list is empty. `hash` is the request's 64-bit hash (route hash_policy): ring hash and
   * Maglev map it to a host, the priority picker to a priority level; others ignore it.
   */
  pick(avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined;
}

/** What a balancer may ask the runtime: requests in flight to a host (by endpoint key). */
export type ActiveRequests = (key: string) => number;

/** Same hosts with the same weights in the same order (a new snapshot with nothing changed). */
export function sameEndpoints(a: readonly EndpointAddress[], b: readonly EndpointAddress[]): boolean {
  if (a.length !== b.length) return false;
  // The TLS settings travel with the endpoint objects a balancer hands out: a change of them
  // (DestinationRule tls, PeerAuthentication) must replace the balancer's list.
  for (let i = 0; i < a.length; i++) if (a[i].key !== b[i].key || a[i].weight !== b[i].weight || a[i].tls?.cacheKey !== b[i].tls?.cacheKey || !sameLocality(a[i], b[i])) return false;
  return true;
}

/** Same priority, locality and locality weight (EDS may move a host between them). */
function sameLocality(a: EndpointAddress, b: EndpointAddress): boolean {
  return (a.priority ?? 0) === (b.priority ?? 0) && (a.locality ?? "") === (b.locality ?? "") && a.localityWeight === b.localityWeight;
}

export function allWeightsEqual(list: readonly EndpointAddress[]): boolean {
  for (const ep of list) if (ep.weight !== list[0].weight) return false;
  return true;
}

/** Whether `ep` was already tried (compared by key: the list may be rebuilt between tries). */
export function isAvoided(ep: EndpointAddress, avoid: readonly EndpointAddress[] | undefined): boolean {
  if (!avoid) return false;
  for (const a of avoid) if (a.key === ep.key) return true;
  return false;
}

/**
 * Up to list-length picks to find a host not in `avoid` (Envoy's previous_hosts predicate);
 * when every host was tried, the last pick is used anyway.
 */
export function pickAvoiding(n: number, next: () => EndpointAddress, avoid: readonly EndpointAddress[] | undefined): EndpointAddress | undefined {
  if (n === 0) return undefined;
  let ep = next();
  for (let i = 1; i < n && isAvoided(ep, avoid); i++) ep = next();
  return ep;
}

/** Draws host indexes in proportion to their load_balancing_weight (uniform when all equal). */
export class WeightedSampler {
  private readonly size: number;
  /** Cumulative weights; empty when all weights are equal. */
  private readonly cumulative: number[];

  constructor(list: readonly EndpointAddress[]) {
    this.size = list.length;
    let sum = 0;
    this.cumulative = allWeightsEqual(list) ? [] : list.map((e) => (sum += e.weight));
  }

  /** An index into the list, by binary search over the cumulative weights. */
  sample(): number {
    const c = this.cumulative;
    if (c.length === 0) return Math.floor(Math.random() * this.size);
    const r = Math.random() * c[c.length - 1]!;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r < c[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
