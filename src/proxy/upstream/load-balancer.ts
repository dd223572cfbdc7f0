// Builds the balancer of a policy for a list of endpoints. A balancer is built when a
// cluster's usable endpoint list changes (a snapshot with other endpoints, an ejection) and is
// reused for every request in between. Endpoints in several priority levels get a priority
// picker on top; locality_weighted_lb_config adds a locality picker (or, for hash policies,
// locality-scaled host weights) within each level.
import type { EndpointAddress, LbConfig, LbPolicy } from "../state/types.ts";
import type { ActiveRequests, Balancer } from "./balancer.ts";
import { RoundRobinBalancer } from "./round-robin.ts";
import { LeastRequestBalancer } from "./least-request.ts";
import { RandomBalancer } from "./random.ts";
import { RingHashBalancer } from "./ring-hash.ts";
import { DEFAULT_MAGLEV_TABLE_SIZE, MaglevBalancer } from "./maglev.ts";
import { hasLocalityWeights, hasSeveralPriorities, LocalityBalancer, localityScaledWeights, PriorityBalancer } from "./locality.ts";

/** Envoy's defaults: a ring of 1024 to 8M entries, a Maglev table of 65537, no locality weighting. */
export const DEFAULT_LB_CONFIG: LbConfig = {
  minRingSize: 1024,
  maxRingSize: 8_388_608,
  tableSize: DEFAULT_MAGLEV_TABLE_SIZE,
  localityWeighted: false,
  key: "default",
};

/** Policies that map a request's hash to a host. */
export function isHashPolicy(policy: LbPolicy): boolean {
  return policy === "RING_HASH" || policy === "MAGLEV";
}

export interface BalancerOptions {
  /** Every endpoint of the cluster, usable or not: the health of priorities and localities is measured against it. Default: `list`. */
  all?: readonly EndpointAddress[];
  config?: LbConfig;
}

/** `list`: the endpoints that may be picked (healthy, not ejected). */
export function createBalancer(policy: LbPolicy, list: readonly EndpointAddress[], active: ActiveRequests, opts: BalancerOptions = {}): Balancer {
  const config = opts.config ?? DEFAULT_LB_CONFIG;
  const all = opts.all ?? list;
  const level = (usable: readonly EndpointAddress[], allInLevel: readonly EndpointAddress[]) => levelBalancer(policy, usable, allInLevel, config, active);
  if (hasSeveralPriorities(all)) return new PriorityBalancer(list, all, level);
  return level(list, all);
}

function levelBalancer(policy: LbPolicy, usable: readonly EndpointAddress[], all: readonly EndpointAddress[], config: LbConfig, active: ActiveRequests): Balancer {
  if (config.localityWeighted) {
    if (isHashPolicy(policy)) {
      const weights = localityScaledWeights(usable);
      if (weights) return plainBalancer(policy, usable, active, config, weights);
    } else if (hasLocalityWeights(usable)) {
      const byLocality = new LocalityBalancer(usable, all, (hosts) => plainBalancer(policy, hosts, active, config));
      // No locality with both a weight and a usable host: Envoy uses the whole level.
      if (byLocality.usable) return byLocality;
    }
  }
  return plainBalancer(policy, usable, active, config);
}

function plainBalancer(policy: LbPolicy, list: readonly EndpointAddress[], active: ActiveRequests, config: LbConfig, weights?: readonly number[]): Balancer {
  switch (policy) {
    case "LEAST_REQUEST":
      return new LeastRequestBalancer(list, active);
    case "RANDOM":
      return new RandomBalancer(list);
    case "RING_HASH":
      return new RingHashBalancer(list, config, weights);
    case "MAGLEV":
      return new MaglevBalancer(list, config.tableSize, weights);
    default:
      return new RoundRobinBalancer(list);
  }
}
