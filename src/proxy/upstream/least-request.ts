// Least request, Envoy's "power of two choices": sample two hosts and send to the one with
// fewer requests in flight. Two *distinct* hosts are sampled (Envoy samples with replacement),
// so with two hosts the less busy one always wins. Unequal weights: hosts are sampled in
// proportion to their weight, then compared by active requests per unit of weight.
import type { EndpointAddress } from "../state/types.ts";
import { pickAvoiding, WeightedSampler, type ActiveRequests, type Balancer } from "./balancer.ts";

export class LeastRequestBalancer implements Balancer {
  private readonly list: readonly EndpointAddress[];
  private readonly active: ActiveRequests;
  private readonly sampler: WeightedSampler;

  constructor(list: readonly EndpointAddress[], active: ActiveRequests) {
    this.list = list;
    this.active = active;
    this.sampler = new WeightedSampler(list);
  }

  pick(avoid: readonly EndpointAddress[] | undefined): EndpointAddress | undefined {
    const n = this.list.length;
    if (n <= 1) return this.list[0];
    return pickAvoiding(n, () => this.next(), avoid);
  }

  private load(i: number): number {
    const ep = this.list[i];
    return this.active(ep.key) / ep.weight;
  }

  private next(): EndpointAddress {
    const a = this.sampler.sample();
    let b = this.sampler.sample();
    // A second, different host (bounded: with skewed weights sampling may keep hitting a).
    for (let k = 0; b === a && k < 8; k++) b = this.sampler.sample();
    if (b === a) b = (a + 1) % this.list.length;
    return this.list[this.load(b) < this.load(a) ? b : a];
  }
}
