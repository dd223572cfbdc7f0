// Random choice, weighted by load_balancing_weight.
import type { EndpointAddress } from "../state/types.ts";
import { pickAvoiding, WeightedSampler, type Balancer } from "./balancer.ts";

export class RandomBalancer implements Balancer {
  private readonly list: readonly EndpointAddress[];
  private readonly sampler: WeightedSampler;

  constructor(list: readonly EndpointAddress[]) {
    this.list = list;
    this.sampler = new WeightedSampler(list);
  }

  pick(avoid: readonly EndpointAddress[] | undefined): EndpointAddress | undefined {
    const n = this.list.length;
    if (n <= 1) return this.list[0];
    return pickAvoiding(n, () => this.list[this.sampler.sample()]!, avoid);
  }
}
