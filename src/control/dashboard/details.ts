// The details panel for one node or edge of the graph: its numbers (from the graph just
// built), the config that applies (applied-config.ts), endpoints with health, and hints:
// what each response flag seen there means (the shared table in ../response-flags.ts) and
// what the describe model noticed (no endpoints, a subset nobody defines, rejected config).
// Pure: the route hands in the graph and the control plane's state.
import type { Registry, Workload } from "../../registry/types.ts";
import { explainFailure } from "../response-flags.ts";
import type { ConfigEntry, DetailsResponse, GraphEdge, GraphNode, GraphResponse } from "./contract.ts";
import { SECURITY_KINDS, describeService, serviceConfig, uniqueEntries, workloadConfig, type ConfigInput } from "./applied-config.ts";
import { parseEdgeId, parseNodeRef, type NodeRef } from "./ids.ts";
import { round } from "./traffic.ts";
import type { Description } from "../describe-model.ts";

export interface DetailsInput extends ConfigInput {
  graph: GraphResponse;
}

type Endpoints = NonNullable<DetailsResponse["endpoints"]>;

/** One line per response flag seen, busiest first; then a line for 5xx the application sent itself. */
export function flagHints(flags: Readonly<Record<string, number>>, errorRate: number): string[] {
  const out: string[] = [];
  for (const [flag, rps] of Object.entries(flags).sort(([, a], [, b]) => b - a)) {
    const meanings = explainFailure(flag);
    if (meanings.length === 0) out.push(`${flag} (${rps} req/s): a response flag this page has no explanation for; see docs/errors.md`);
    else out.push(...meanings.map((m) => `${m} (${flag} at ${rps} req/s)`));
  }
  if (errorRate > 0 && Object.keys(flags).length === 0) {
    out.push("5xx without a response flag: the application itself answered with an error; its own log says why.");
  }
  return out;
}

function sumInto(target: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) target[k] = round((target[k] ?? 0) + v, 3);
}

/** The numbers of a node, with the codes and flags of the edges into it. */
function nodeNumbers(node: GraphNode, incoming: readonly GraphEdge[]): DetailsResponse["numbers"] {
  const responseCodes: Record<string, number> = {};
  const flags: Record<string, number> = {};
  for (const e of incoming) {
    sumInto(responseCodes, e.responseCodes);
    sumInto(flags, e.flags);
  }
  return { rps: node.rps, errorRate: node.errorRate, p99Ms: node.p99Ms, responseCodes, flags };
}

function findWorkload(registry: Registry, namespace: string, name: string): Workload | undefined {
  for (const w of registry.workloads.values()) if (w.namespace === namespace && w.name === name) return w;
  return undefined;
}

/** Every endpoint a workload serves, over all services. */
function workloadEndpoints(registry: Registry, w: Workload | undefined): Endpoints {
  if (!w) return [];
  const out: Endpoints = [];
  for (const list of registry.endpoints.values()) {
    for (const e of list) if (e.workloadUid === w.uid) out.push({ address: `${e.address}:${e.port}`, healthy: e.healthy, workload: `${w.name}.${w.namespace}` });
  }
  return dedupeEndpoints(out);
}

function dedupeEndpoints(list: Endpoints): Endpoints {
  const seen = new Set<string>();
  return list.filter((e) => (seen.has(e.address) ? false : (seen.add(e.address), true)));
}

function serviceEndpoints(d: Description | undefined, onlyWorkload?: string): Endpoints {
  return dedupeEndpoints((d?.endpoints ?? []).filter((e) => !onlyWorkload || e.workload === onlyWorkload).map((e) => ({ address: e.address, healthy: e.healthy, workload: e.workload })));
}

/** The workload's labels from the registry, else from its node in the graph. */
function workloadView(input: DetailsInput, ref: { namespace: string; name: string }, node: GraphNode | undefined): { w: Workload | undefined; labels: Record<string, string> } {
  const w = findWorkload(input.registry, ref.namespace, ref.name);
  const labels = w?.labels ?? { ...(node?.app ? { app: node.app } : {}), ...(node?.version ? { version: node.version } : {}) };
  return { w, labels };
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

export function nodeDetails(input: DetailsInput, id: string): DetailsResponse | undefined {
  const node = input.graph.nodes.find((n) => n.id === id);
  const ref = parseNodeRef(id);
  if (!node || !ref) return undefined;
  const incoming = input.graph.edges.filter((e) => e.target === id);
  const numbers = nodeNumbers(node, incoming);
  const flagLines = flagHints(numbers.flags ?? {}, node.errorRate);
  if (ref.kind === "unknown") {
    return {
      title: "unknown: clients outside the mesh", kind: "unknown", numbers, config: [],
      hints: ["Requests whose client has no sidecar (or sent no peer metadata) are shown as coming from here; the destination's sidecar reported them."],
    };
  }
  if (ref.kind === "service") {
    const d = describeService(input, ref.hostname);
    const hints = unique([...flagLines, ...(d?.hints ?? [])]);
    if (!d) hints.push(`${ref.hostname} is not in the registry: requests for it leave the mesh through PassthroughCluster (or get 502 from BlackHoleCluster under REGISTRY_ONLY).`);
    return { title: ref.hostname, kind: "service", numbers, config: serviceConfig(d), endpoints: serviceEndpoints(d), hints };
  }
  const { w, labels } = workloadView(input, ref, node);
  // DestinationRules and VirtualServices of the services it serves decide its subsets.
  const served = unique((w ? [...input.registry.services.values()].filter((s) => s.ports.some((p) => (input.registry.endpoints.get(`${s.hostname}:${p.number}`) ?? []).some((e) => e.workloadUid === w.uid))) : []).map((s) => s.hostname));
  const config: ConfigEntry[] = [...workloadConfig(input, { namespace: ref.namespace, labels })];
  for (const host of served) config.push(...serviceConfig(describeService(input, host), { policies: false }));
  const hints = [...flagLines];
  if (w?.healthy === false) hints.push(`the workload is unhealthy${w.healthMessage ? `: ${w.healthMessage}` : ""}; its endpoints are out of rotation and clients get UH while no other endpoint is healthy.`);
  if (!node.proxy) hints.push("no sidecar of this workload is connected to the control plane: it reports no metrics, and its numbers come only from its clients.");
  else if (!node.proxy.synced) hints.push("its sidecar has not acknowledged everything it was sent (STALE or NACKED): see the proxies list or `mizzen proxy-status`.");
  const withMtls = { ...numbers, ...(incoming.length > 0 ? { mtls: incoming.every((e) => e.mtls) } : {}) };
  return { title: `${ref.name}.${ref.namespace}`, kind: "workload", numbers: withMtls, config: uniqueEntries(config), endpoints: workloadEndpoints(input.registry, w), hints };
}

function title(ref: NodeRef): string {
  if (ref.kind === "unknown") return "unknown";
  if (ref.kind === "service") return ref.hostname;
  return `${ref.name}.${ref.namespace}`;
}

export function edgeDetails(input: DetailsInput, id: string): DetailsResponse | undefined {
  const edge = input.graph.edges.find((e) => e.id === id);
  const ends = parseEdgeId(id);
  if (!edge || !ends) return undefined;
  const from = parseNodeRef(ends.source)!;
  const to = parseNodeRef(ends.target)!;
  const numbers: DetailsResponse["numbers"] = { rps: edge.rps, errorRate: edge.errorRate, p99Ms: edge.p99Ms, mtls: edge.mtls, responseCodes: edge.responseCodes, flags: edge.flags };
  const hints = flagHints(edge.flags, edge.errorRate);
  let config: ConfigEntry[] = [];
  let endpoints: Endpoints = [];
  if (to.kind === "service") {
    // Client -> service: the client's Sidecar and Telemetry, then the service's routing and the policies its workloads run.
    const d = describeService(input, to.hostname);
    if (from.kind === "workload") {
      const { labels } = workloadView(input, from, input.graph.nodes.find((n) => n.id === ends.source));
      config.push(...workloadConfig(input, { namespace: from.namespace, labels }, ["Sidecar", "Telemetry"]));
    }
    config.push(...serviceConfig(d));
    endpoints = serviceEndpoints(d);
    hints.push(...(d?.hints ?? []));
    if (!edge.mtls && edge.rps > 0 && from.kind === "workload") hints.push("not mutual TLS: the destination reported plaintext (or has no sidecar); check the DestinationRule's tls.mode and the PeerAuthentication mode.");
  } else if (from.kind === "service" && to.kind === "workload") {
    // Service -> workload: the routing that picked this workload, and what runs in its sidecar.
    const d = describeService(input, from.hostname);
    const { labels } = workloadView(input, to, input.graph.nodes.find((n) => n.id === ends.target));
    config.push(...serviceConfig(d, { policies: false }), ...workloadConfig(input, { namespace: to.namespace, labels }, [...SECURITY_KINDS, "Telemetry"]));
    endpoints = serviceEndpoints(d, `${to.name}.${to.namespace}`);
    hints.push(...(d?.hints ?? []));
  }
  config = uniqueEntries(config);
  return { title: `${title(from)} → ${title(to)}`, kind: "edge", numbers, config, endpoints, hints: unique(hints) };
}
