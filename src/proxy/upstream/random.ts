// Random choice, weighted by load_balancing_weight (binary search over cumulative weights).
import type { EndpointAddress } from "../state/types.ts";
import { allWeightsEqual, pickAvoiding, type Balancer } from "./balancer.ts";

export class RandomBalancer implements Balancer {
  private readonly list: readonly EndpointAddress[];
  /** Cumulative weights; empty when all weights are equal. */
  private readonly cumulative: number[];

  constructor(list: readonly EndpointAddress[]) {
    this.list = list;
    let sum = 0;
    this.cumulative = allWeightsEqual(list) ? [] : list.map((e) => (sum += e.weight));
  }

  pick(avoid: readonly EndpointAddress[] | undefined): EndpointAddress | undefined {
    const n = this.list.length;
    if (n <= 1) return this.list[0];
    return pickAvoiding(n, () => this.next(), avoid);
  }

  private next(): EndpointAddress {
    const c = this.cumulative;
    if (c.length === 0) return this.list[Math.floor(Math.random() * this.list.length)];
    const r = Math.random() * c[c.length - 1];
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r < c[mid]) hi = mid;
      else lo = mid + 1;
    }
    return this.list[lo];
  }
}
