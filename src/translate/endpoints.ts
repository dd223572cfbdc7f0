// EDS: one ClusterLoadAssignment per EDS cluster, endpoints grouped by locality and, for
// subset clusters, filtered by the subset's labels.
import type { Endpoint } from "../registry/types.ts";
import type { ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints } from "../xds/envoy-types.ts";
import { labelsMatch } from "../registry/read-spec.ts";
import type { ViewInput } from "./input.ts";
import type { ProxyNode } from "../xds/node.ts";
import { byClusterName, outboundClusterPlans } from "./cluster-plans.ts";

function localityOf(l: string | undefined): LocalityLbEndpoints["locality"] | undefined {
  if (!l) return undefined;
  const [region, zone, sub_zone] = l.split("/");
  return {
    ...(region ? { region } : {}),
    ...(zone ? { zone } : {}),
    ...(sub_zone ? { sub_zone } : {}),
  };
}

/** Istio's endpoint metadata for auto mTLS: transport_socket_matches pick TLS by it. */
const TLS_MODE_ISTIO = { filter_metadata: { "envoy.transport_socket_match": { fields: { tlsMode: { string_value: "istio" } } } } };

function lbEndpoint(e: Endpoint): LbEndpoint {
  return {
    endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
    health_status: e.healthy ? "HEALTHY" : "UNHEALTHY",
    load_balancing_weight: { value: e.weight },
    ...(e.tlsMode === "istio" ? { metadata: TLS_MODE_ISTIO } : {}),
  };
}

/** A load assignment for `endpoints` (already in registry order), grouped by locality. */
export function loadAssignment(clusterName: string, endpoints: readonly Endpoint[], subsetLabels?: Record<string, string>): ClusterLoadAssignment {
  const groups = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, e.labels)) continue;
    const key = e.locality ?? "";
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  const localities: LocalityLbEndpoints[] = [];
  for (const key of [...groups.keys()].sort()) {
    const list = groups.get(key) ?? [];
    // Always present, even empty: gRPC's xDS client rejects a locality group without one.
    localities.push({
      locality: localityOf(key) ?? {},
      lb_endpoints: list.map(lbEndpoint),
      load_balancing_weight: { value: list.reduce((n, e) => n + e.weight, 0) },
    });
  }
  return { cluster_name: clusterName, endpoints: localities };
}

/** What EDS reads of the proxy: its namespace, which decides the services and subsets it sees. */
export type EndpointProxyView = Pick<ProxyNode, "namespace">;

export function endpointView(p: ProxyNode): EndpointProxyView {
  return { namespace: p.namespace };
}

/** The whole view as a string: proxies with equal keys get equal load assignments. */
export function endpointViewKey(v: EndpointProxyView): string {
  return JSON.stringify([v.namespace]);
}

/** EDS resources for every EDS cluster this proxy has, sorted by cluster name. */
export function translateEndpoints(input: ViewInput<EndpointProxyView>): ClusterLoadAssignment[] {
  const out: ClusterLoadAssignment[] = [];
  for (const plan of outboundClusterPlans(input)) {
    if (plan.discovery !== "EDS") continue;
    const eps = input.registry.endpoints.get(`${plan.service.hostname}:${plan.port.number}`) ?? [];
    out.push(loadAssignment(plan.name, eps, plan.subset?.labels));
  }
  return out.sort(byClusterName);
}
