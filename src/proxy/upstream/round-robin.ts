// Round robin. Equal weights: a cursor that starts at a random host (as Envoy's does, so many
// proxies do not all hit the first host together). Unequal weights: smooth weighted round
// robin (each pick adds every host's weight to its credit, takes the host with the most
// credit and charges it the total), which interleaves hosts instead of sending runs.
import type { EndpointAddress } from "../state/types.ts";
import { allWeightsEqual, pickAvoiding, type Balancer } from "./balancer.ts";

export class RoundRobinBalancer implements Balancer {
  private readonly list: readonly EndpointAddress[];
  private readonly weighted: boolean;
  private cursor: number;
  private readonly credit: number[];
  private readonly total: number;

  constructor(list: readonly EndpointAddress[]) {
    this.list = list;
    this.weighted = !allWeightsEqual(list);
    this.cursor = Math.floor(Math.random() * Math.max(list.length, 1));
    this.credit = this.weighted ? list.map(() => 0) : [];
    this.total = list.reduce((s, e) => s + e.weight, 0);
  }

  pick(avoid: readonly EndpointAddress[] | undefined): EndpointAddress | undefined {
    const n = this.list.length;
    if (n <= 1) return this.list[0];
    return pickAvoiding(n, this.weighted ? () => this.nextWeighted() : () => this.nextPlain(), avoid);
  }

  private nextPlain(): EndpointAddress {
    const ep = this.list[this.cursor];
    this.cursor = (this.cursor + 1) % this.list.length;
    return ep;
  }

  private nextWeighted(): EndpointAddress {
    let best = 0;
    for (let i = 0; i < this.list.length; i++) {
      this.credit[i] += this.list[i].weight;
      if (this.credit[i] > this.credit[best]) best = i;
    }
    this.credit[best] -= this.total;
    return this.list[best];
  }
}
