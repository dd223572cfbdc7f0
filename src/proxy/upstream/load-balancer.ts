// Builds the balancer of a policy for a list of endpoints. A balancer is built when a
// cluster's usable endpoint list changes (a snapshot with other endpoints, an ejection) and is
// reused for every request in between.
import type { EndpointAddress, LbPolicy } from "../state/types.ts";
import type { ActiveRequests, Balancer } from "./balancer.ts";
import { RoundRobinBalancer } from "./round-robin.ts";
import { LeastRequestBalancer } from "./least-request.ts";
import { RandomBalancer } from "./random.ts";

export function createBalancer(policy: LbPolicy, list: readonly EndpointAddress[], active: ActiveRequests): Balancer {
  switch (policy) {
    case "LEAST_REQUEST":
      return new LeastRequestBalancer(list, active);
    case "RANDOM":
      return new RandomBalancer(list);
    default:
      return new RoundRobinBalancer(list);
  }
}

