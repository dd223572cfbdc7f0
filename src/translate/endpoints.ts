// EDS: one ClusterLoadAssignment per EDS cluster, endpoints grouped by locality and, for
// subset clusters, filtered by the subset's labels; then arranged for where the proxy runs
// (Istio's locality load balancing: priorities for failover, weights for distribute).
import type { Endpoint } from "../registry/types.ts";
import type { ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints } from "../xds/envoy-types.ts";
import { labelsMatch, obj, objs } from "../registry/read-spec.ts";
import type { ViewInput } from "./input.ts";
import type { ProxyNode } from "../xds/node.ts";
import { byClusterName, outboundClusterPlans } from "./cluster-plans.ts";
import { localityFromLabels, REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from "../registry/locality.ts";
import { applyLocalityLb, failoverPriorityLabelKeys, localityLbSettingOf } from "./locality-lb.ts";
import type { ConfigObject } from "../api/types.ts";

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
  return groupedAssignment(clusterName, endpoints, subsetLabels).cla;
}

/** The load assignment and, per locality group, the registry endpoints behind it. */
function groupedAssignment(clusterName: string, endpoints: readonly Endpoint[], subsetLabels?: Record<string, string>): { cla: ClusterLoadAssignment; members: Endpoint[][] } {
  const groups = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, e.labels)) continue;
    const key = e.locality ?? "";
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  const localities: LocalityLbEndpoints[] = [];
  const members: Endpoint[][] = [];
  for (const key of [...groups.keys()].sort()) {
    const list = groups.get(key) ?? [];
    members.push(list);
    // Always present, even empty: gRPC's xDS client rejects a locality group without one.
    localities.push({
      locality: localityOf(key) ?? {},
      lb_endpoints: list.map(lbEndpoint),
      load_balancing_weight: { value: list.reduce((n, e) => n + e.weight, 0) },
    });
  }
  return { cla: { cluster_name: clusterName, endpoints: localities }, members };
}

/**
 * What EDS reads of the proxy: its namespace (which services and subsets it sees) and its
 * labels: the topology ones give its locality (locality load balancing is relative to it),
 * others may be named by localityLbSetting.failoverPriority or a Sidecar selector.
 */
export type EndpointProxyView = Pick<ProxyNode, "namespace" | "labels">;

/** Labels every proxy's view keeps: the topology ones (failoverPriority often names them). */
const TOPOLOGY_LABELS = [REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL, "topology.istio.io/network"];

/**
 * The EDS view of a proxy, its labels narrowed to the topology labels and `labelKeys` (pass
 * failoverPriorityKeys(objects), plus any keys Sidecar selectors name): other labels cannot
 * change its load assignments, so pods in one place share them.
 */
export function endpointView(p: ProxyNode, labelKeys: ReadonlySet<string> = new Set()): EndpointProxyView {
  const labels: Record<string, string> = {};
  for (const k of [...new Set([...TOPOLOGY_LABELS, ...labelKeys])].sort()) if (Object.hasOwn(p.labels, k)) labels[k] = p.labels[k]!;
  return { namespace: p.namespace, labels };
}

/** The whole view as a string: proxies with equal keys get equal load assignments. */
export function endpointViewKey(v: EndpointProxyView): string {
  const labels = Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([v.namespace, labels]);
}

/** Every label name a DestinationRule's localityLbSetting.failoverPriority lists (top level, ports, subsets). */
export function failoverPriorityKeys(objects: readonly ConfigObject[]): Set<string> {
  const lbs: (Record<string, unknown> | undefined)[] = [];
  const addPolicy = (tp: unknown): void => {
    const p = obj(tp);
    lbs.push(obj(p?.loadBalancer));
    for (const pl of objs(p?.portLevelSettings)) lbs.push(obj(pl.loadBalancer));
  };
  for (const o of objects) {
    if (o.kind !== "DestinationRule") continue;
    addPolicy(o.spec.trafficPolicy);
    for (const s of objs(o.spec.subsets)) addPolicy(s.trafficPolicy);
  }
  return failoverPriorityLabelKeys(lbs);
}

/** EDS resources for every EDS cluster this proxy has, sorted by cluster name. */
export function translateEndpoints(input: ViewInput<EndpointProxyView>): ClusterLoadAssignment[] {
  const out: ClusterLoadAssignment[] = [];
  const proxy = { locality: localityFromLabels(input.proxy.labels) ?? "", labels: input.proxy.labels };
  for (const plan of outboundClusterPlans(input)) {
    if (plan.discovery !== "EDS") continue;
    const eps = input.registry.endpoints.get(`${plan.service.hostname}:${plan.port.number}`) ?? [];
    const { cla, members } = groupedAssignment(plan.name, eps, plan.subset?.labels);
    out.push(applyLocalityLb(cla, members, proxy, localityLbSettingOf(plan.policy), plan.policy.outlierDetection !== undefined));
  }
  return out.sort(byClusterName);
}
