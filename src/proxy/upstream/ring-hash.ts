// Ring hash (Envoy's RING_HASH, a Ketama-style consistent hash). Every host owns points on a
// 64-bit ring, hashed from its own key ("ip:port_0", "ip:port_1", ... with xxHash64, Envoy's
// names and hash), in proportion to its weight; a request goes to the first point at or
// after its hash.
//
// One deliberate difference from Envoy: the number of points a host gets depends on its
// weight relative to the average, not on how many hosts there are. A host of average weight
// has minimum_ring_size / 4 points (256 by default: Envoy's count for a 4-host ring; the ring
// then reaches minimum_ring_size from 4 hosts on). Envoy instead spreads minimum_ring_size
// over the hosts, so when one leaves every other host gains points and ~1/N more keys move.
// Here, with equal weights, a leaving host takes only its own keys with it (about 1/N), and
// they come back when it does. The ring is scaled down to maximum_ring_size when larger.
import type { EndpointAddress } from "../state/types.ts";
import { isAvoided, type Balancer } from "./balancer.ts";
import { randomHash, xxhash64 } from "./hash.ts";

export interface RingSizes {
  minRingSize: number;
  maxRingSize: number;
}

export class RingHashBalancer implements Balancer {
  private readonly hosts: readonly EndpointAddress[];
  /** Point hashes, ascending. */
  private readonly points: BigUint64Array;
  /** Index into `hosts` of the owner of each point. */
  private readonly owners: Uint32Array;

  /** `weights` (aligned with `list`) replace the endpoints' own weights, e.g. scaled by locality. */
  constructor(list: readonly EndpointAddress[], sizes: RingSizes, weights?: readonly number[]) {
    this.hosts = list;
    const w = list.map((e, i) => Math.max(0, weights ? weights[i] ?? 0 : e.weight));
    const sum = w.reduce((a, b) => a + b, 0);
    if (list.length === 0 || sum <= 0) {
      this.points = new BigUint64Array(0);
      this.owners = new Uint32Array(0);
      return;
    }
    const live = w.filter((x) => x > 0).length;
    const perAverageHost = Math.max(1, Math.ceil(sizes.minRingSize / 4));
    // Points per unit of weight; shrunk only when the ring would outgrow maximum_ring_size.
    const unit = Math.min(perAverageHost * live, sizes.maxRingSize) / sum;
    const counts = w.map((x) => (x > 0 ? Math.max(1, Math.round(x * unit)) : 0));
    const points = new BigUint64Array(counts.reduce((a, b) => a + b, 0));
    const ownerOf = new Map<bigint, number>();
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      for (let k = 0; k < counts[i]; k++) {
        const h = xxhash64(`${list[i].key}_${k}`);
        points[n++] = h;
        // Two points with one 64-bit hash: the first host keeps it (never seen in practice).
        if (!ownerOf.has(h)) ownerOf.set(h, i);
      }
    }
    points.sort(); // numeric, in native code
    this.points = points;
    this.owners = Uint32Array.from(points, (h) => ownerOf.get(h)!);
  }

  /** Points on the ring (for tests and the admin view). */
  get size(): number {
    return this.points.length;
  }

  pick(avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    let at = this.firstAtOrAfter(hash ?? randomHash());
    const first = this.hosts[this.owners[at]];
    if (!avoid || !isAvoided(first, avoid)) return first;
    // A retry that must avoid earlier hosts walks on clockwise to the next other host.
    for (let step = 1; step < n; step++) {
      at = at + 1 === n ? 0 : at + 1;
      const ep = this.hosts[this.owners[at]];
      if (!isAvoided(ep, avoid)) return ep;
    }
    return first;
  }

  /** Index of the first point >= h, wrapping to 0 past the last. */
  private firstAtOrAfter(h: bigint): number {
    const p = this.points;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === p.length ? 0 : lo;
  }
}
