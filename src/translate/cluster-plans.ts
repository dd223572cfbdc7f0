// The outbound clusters a proxy gets, decided once and shared by CDS and EDS: one per
// visible service port, plus one per DestinationRule subset, with the merged policy.
import type { Service, ServicePort } from "../registry/types.ts";
import type { ClusterLoadAssignment } from "../xds/envoy-types.ts";
import { findDestinationRule, mergeTrafficPolicy, subsetsOf, type AppliedRule, type Subset, type TrafficPolicy } from "./destination-rules.ts";
import { outboundClusterName } from "./hosts.ts";
import { scopedServices, type SidecarScopeProxy } from "./sidecar-scope.ts";
import type { ViewInput } from "./input.ts";
import type { ProxyNode } from "../xds/node.ts";
import { obj } from "../registry/read-spec.ts";

export type Discovery = "EDS" | "DNS" | "ORIGINAL_DST";

export interface ClusterPlan {
  name: string;
  service: Service;
  port: ServicePort;
  subset?: Subset;
  rule?: AppliedRule;
  policy: TrafficPolicy;
  discovery: Discovery;
}

function discoveryOf(s: Service): Discovery {
  if (s.resolution === "DNS") return "DNS";
  if (s.resolution === "NONE") return "ORIGINAL_DST";
  return "EDS";
}

/**
 * Plans depend on the proxy's namespace (service and DestinationRule visibility) and the labels
 * Sidecar selectors name (which Sidecar's egress hosts scope the services).
 */
export function outboundClusterPlans(input: ViewInput<Pick<ProxyNode, "namespace"> & SidecarScopeProxy>): ClusterPlan[] {
  const out: ClusterPlan[] = [];
  for (const service of scopedServices(input)) {
    const rule = findDestinationRule(input.objects, input.proxy.namespace, service, input.mesh);
    const topLevel = rule ? obj(rule.rule.spec.trafficPolicy) : undefined;
    const discovery = discoveryOf(service);
    for (const port of service.ports) {
      const base = { service, port, discovery, ...(rule ? { rule } : {}) };
      out.push({ ...base, name: outboundClusterName(port.number, "", service.hostname), policy: mergeTrafficPolicy(topLevel, undefined, port.number) });
      if (!rule) continue;
      for (const subset of subsetsOf(rule.rule)) {
        out.push({
          ...base,
          name: outboundClusterName(port.number, subset.name, service.hostname),
          subset,
          policy: mergeTrafficPolicy(topLevel, subset.trafficPolicy ?? {}, port.number),
        });
      }
    }
  }
  return out;
}

export function byClusterName(a: ClusterLoadAssignment, b: ClusterLoadAssignment): number {
  return a.cluster_name < b.cluster_name ? -1 : a.cluster_name > b.cluster_name ? 1 : 0;
}
