// Makes the API's graph safe to draw: an edge naming a node the API did not list gets a
// placeholder node (so traffic is never hidden), and duplicate ids keep their first entry.
import type { GraphEdge, GraphNode, GraphResponse } from "../api/types.ts";

export interface DrawableGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

function placeholder(id: string): GraphNode {
  const kind = id.startsWith("service:") ? "service" : id.startsWith("workload:") ? "workload" : "unknown";
  const rest = id.includes(":") ? id.slice(id.indexOf(":") + 1) : id;
  const [namespace, name] = kind === "workload" && rest.includes("/") ? rest.split("/", 2) : ["", rest];
  return { id, kind, name: name ?? rest, namespace: namespace ?? "", rps: 0, errorRate: 0, p99Ms: null, health: "idle" };
}

export function normalizeGraph(graph: GraphResponse | undefined): DrawableGraph {
  if (!graph) return { nodes: [], edges: [] };
  const nodes = new Map<string, GraphNode>();
  for (const n of graph.nodes) if (n && typeof n.id === "string" && !nodes.has(n.id)) nodes.set(n.id, n);
  const edges = new Map<string, GraphEdge>();
  for (const e of graph.edges) {
    if (!e || typeof e.id !== "string" || edges.has(e.id)) continue;
    if (!nodes.has(e.source)) nodes.set(e.source, placeholder(e.source));
    if (!nodes.has(e.target)) nodes.set(e.target, placeholder(e.target));
    edges.set(e.id, e);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}
