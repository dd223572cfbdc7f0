// The service graph: a pure function of the window's metric samples, the registry and the
// connected proxies. Which reporter tells what, as Kiali reads Istio's metrics:
// - workload -> service edges come from the client's sidecar (reporter="source"), which also
//   sees requests that never reached a server (no route, no healthy upstream), and is the
//   only witness for services without sidecars (external ServiceEntries);
// - service -> workload edges, a workload's inbound numbers, mTLS, and traffic from outside
//   the mesh (source_workload "unknown") come from the server's sidecar (reporter="destination").
// A service's own numbers are the sum of the edges into it. Every registry service and
// workload is a node even when idle, so the page shows the whole mesh at once.
import type { Service, Workload } from "../../registry/types.ts";
import type { ProxyNode } from "../../xds/node.ts";
import type { TypeSyncStatus } from "../../xds/sync-status.ts";
import { healthOf, type GraphEdge, type GraphNode, type GraphResponse, type ScrapeReport } from "./contract.ts";
import { DURATION, REQUESTS, type Labels } from "./mesh-metrics.ts";
import type { WindowSamples } from "./rate-window.ts";
import { Traffic, round, roundedMap } from "./traffic.ts";
import { UNKNOWN_ID, edgeId, serviceId, workloadId } from "./ids.ts";

export interface GraphProxy {
  node: Pick<ProxyNode, "id" | "name" | "namespace" | "labels">;
  /** Per xDS type, as /debug/syncz reports it. */
  types?: readonly Pick<TypeSyncStatus, "state">[];
}

export interface GraphInput {
  now: number;
  windowSeconds: number;
  scrape: ScrapeReport;
  samples: WindowSamples;
  services: readonly Service[];
  workloads: readonly Workload[];
  proxies: readonly GraphProxy[];
}

const UNKNOWN = "unknown";

function known(v: string | undefined): v is string {
  return v !== undefined && v !== "" && v !== UNKNOWN;
}

/** Synced: at least one type sent, and everything sent acknowledged. */
export function proxySynced(types: readonly Pick<TypeSyncStatus, "state">[] | undefined): boolean {
  const sent = (types ?? []).filter((t) => t.state !== "NOT_SENT");
  return sent.length > 0 && sent.every((t) => t.state === "SYNCED");
}

/** Where one series' traffic is counted. */
interface Routes {
  edges: { source: string; target: string }[];
  /** Nodes whose own numbers include it. */
  nodes: string[];
  /** Edges whose mTLS flag it tells (destination reporter), beyond the ones above. */
  securityOf: string[];
}

class GraphAccumulator {
  readonly nodeTraffic = new Map<string, Traffic>();
  readonly edgeTraffic = new Map<string, { source: string; target: string; traffic: Traffic }>();
  readonly mtlsOf = new Map<string, Traffic>();
  /** Names for nodes first seen in the metrics. */
  readonly seen = new Map<string, Omit<GraphNode, "rps" | "errorRate" | "p99Ms" | "health">>();

  node(id: string): Traffic {
    let t = this.nodeTraffic.get(id);
    if (!t) this.nodeTraffic.set(id, (t = new Traffic()));
    return t;
  }

  edge(source: string, target: string): Traffic {
    const id = edgeId(source, target);
    let e = this.edgeTraffic.get(id);
    if (!e) this.edgeTraffic.set(id, (e = { source, target, traffic: new Traffic() }));
    return e.traffic;
  }

  security(id: string): Traffic {
    let t = this.mtlsOf.get(id);
    if (!t) this.mtlsOf.set(id, (t = new Traffic()));
    return t;
  }

  /** Which edges and nodes a series with these labels belongs to (remembering names of new nodes). */
  route(labels: Labels): Routes {
    const service = this.serviceFrom(labels);
    const out: Routes = { edges: [], nodes: [], securityOf: [] };
    if (labels.reporter === "source") {
      const src = this.workloadFrom(labels.source_workload_namespace, labels.source_workload, labels.source_app, labels.source_version);
      if (!src) return out;
      out.edges.push({ source: src, target: service });
      out.nodes.push(service);
    } else if (labels.reporter === "destination") {
      const dst = this.workloadFrom(labels.destination_workload_namespace, labels.destination_workload, labels.destination_app, labels.destination_version);
      if (dst) {
        out.edges.push({ source: service, target: dst });
        out.nodes.push(dst);
      }
      const src = this.workloadFrom(labels.source_workload_namespace, labels.source_workload, labels.source_app, labels.source_version);
      if (src) out.securityOf.push(edgeId(src, service));
      else {
        this.seen.set(UNKNOWN_ID, { id: UNKNOWN_ID, kind: "unknown", name: UNKNOWN, namespace: "" });
        out.edges.push({ source: UNKNOWN_ID, target: service });
        // Outside the mesh, the node's numbers are what it sent (nothing reports what it handles).
        out.nodes.push(service, UNKNOWN_ID);
      }
    }
    return out;
  }

  private workloadFrom(ns: string | undefined, name: string | undefined, app: string | undefined, version: string | undefined): string | undefined {
    if (!known(name)) return undefined;
    const namespace = known(ns) ? ns : "default";
    const id = workloadId(namespace, name);
    if (!this.seen.has(id)) this.seen.set(id, { id, kind: "workload", name, namespace, ...(known(app) ? { app } : {}), ...(known(version) ? { version } : {}) });
    return id;
  }

  private serviceFrom(labels: Labels): string {
    const host = known(labels.destination_service) ? labels.destination_service : UNKNOWN;
    const id = serviceId(host);
    if (!this.seen.has(id)) {
      const svcName = labels.destination_service_name;
      // Passthrough and blackhole traffic is named by the host it was for.
      const name = known(svcName) && svcName !== "PassthroughCluster" && svcName !== "BlackHoleCluster" ? svcName : host;
      this.seen.set(id, { id, kind: "service", name, namespace: known(labels.destination_service_namespace) ? labels.destination_service_namespace : "" });
    }
    return id;
  }
}

function numbers(t: Traffic | undefined): { rps: number; errorRate: number; p99Ms: number | null; health: GraphNode["health"] } {
  if (!t) return { rps: 0, errorRate: 0, p99Ms: null, health: "idle" };
  const rps = round(t.rps, 3);
  const errorRate = round(t.errorRate, 4);
  const p99 = t.p99Ms();
  return { rps, errorRate, p99Ms: p99 === null ? null : round(p99, 2), health: healthOf(rps, errorRate, rps > 0 || t.tcpActive) };
}

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function buildGraph(input: GraphInput): GraphResponse {
  const acc = new GraphAccumulator();
  for (const c of input.samples.counters) {
    const r = acc.route(c.labels);
    const isRequests = c.name === REQUESTS;
    const add = (t: Traffic) => (isRequests ? t.addRequests(c.labels, c.rate) : t.addTcp(c.name, c.labels, c.rate));
    for (const e of r.edges) {
      const t = acc.edge(e.source, e.target);
      add(t);
      if (c.labels.reporter === "destination") t.addSecurity(c.labels, isRequests ? c.rate : 0);
    }
    for (const n of r.nodes) add(acc.node(n));
    for (const id of r.securityOf) acc.security(id).addSecurity(c.labels, isRequests ? c.rate : 0);
  }
  for (const h of input.samples.histograms) {
    if (h.name !== DURATION) continue;
    const r = acc.route(h.labels);
    for (const e of r.edges) acc.edge(e.source, e.target).addDuration(h.buckets);
    for (const n of r.nodes) acc.node(n).addDuration(h.buckets);
  }

  const proxies = new Map(input.proxies.map((p) => [workloadId(p.node.namespace, p.node.name), p]));
  const nodes = new Map<string, GraphNode>();
  const put = (base: Omit<GraphNode, "rps" | "errorRate" | "p99Ms" | "health">) => {
    if (nodes.has(base.id)) return;
    const p = base.kind === "workload" ? proxies.get(base.id) : undefined;
    nodes.set(base.id, { ...base, ...numbers(acc.nodeTraffic.get(base.id)), ...(p ? { proxy: { id: p.node.id, synced: proxySynced(p.types) } } : {}) });
  };
  for (const s of input.services) put({ id: serviceId(s.hostname), kind: "service", name: s.aliases[0] ?? s.hostname, namespace: s.namespace });
  const labelled = (labels: Readonly<Record<string, string>>) => ({ ...(labels.app ? { app: labels.app } : {}), ...(labels.version ? { version: labels.version } : {}) });
  for (const w of input.workloads) put({ id: workloadId(w.namespace, w.name), kind: "workload", name: w.name, namespace: w.namespace, ...labelled(w.labels) });
  for (const p of input.proxies) put({ id: workloadId(p.node.namespace, p.node.name), kind: "workload", name: p.node.name, namespace: p.node.namespace, ...labelled(p.node.labels) });
  for (const base of acc.seen.values()) put(base);

  const edges: GraphEdge[] = [];
  for (const [id, { source, target, traffic }] of acc.edgeTraffic) {
    const security = target.startsWith("service:") && source !== UNKNOWN_ID ? acc.mtlsOf.get(id) : traffic;
    const tcp = traffic.tcp();
    edges.push({
      id, source, target,
      protocol: traffic.protocol,
      ...numbers(traffic),
      mtls: security?.mtls ?? false,
      responseCodes: roundedMap(traffic.codes),
      flags: roundedMap(traffic.flags),
      ...(tcp ? { tcp } : {}),
    });
  }
  return {
    generatedAt: input.now,
    windowSeconds: input.windowSeconds,
    scrape: input.scrape,
    nodes: [...nodes.values()].sort(byId),
    edges: edges.sort(byId),
  };
}
