// Lays the service graph out left to right with dagre. Edge labels are real boxes in the
// layout (dagre gives them their own rank), so labels never overlap nodes or each other.
// The result depends only on the topology (ids and names), never on the live numbers, so
// the caller can keep it until a node or edge comes or goes.
import { graphlib, layout } from "@dagrejs/dagre";
import type { GraphEdge, GraphNode } from "../api/types.ts";
import { nodeSubtitle, shortName } from "../format.ts";
import { NAME_FONT, SUB_FONT, textWidth } from "./measure.ts";

export interface Point {
  x: number;
  y: number;
}

export interface NodeBox {
  /** centre */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EdgeRoute {
  points: Point[];
  /** centre of the label box */
  labelX: number;
  labelY: number;
}

/** A service-to-workload link drawn faintly where no traffic flows yet (see inferLinks). */
export interface InferredLink {
  id: string;
  source: string;
  target: string;
  points: Point[];
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: Map<string, NodeBox>;
  edges: Map<string, EdgeRoute>;
  links: InferredLink[];
}

export const NODE_HEIGHT = 44;
export const EDGE_LABEL_WIDTH = 84;
export const EDGE_LABEL_HEIGHT = 50;
const NODE_PADDING_X = 12;
/** Services are drawn as hexagons: their pointed ends need extra room. */
export const SERVICE_TIP = 12;

export function nodeWidth(node: GraphNode): number {
  const text = Math.max(textWidth(shortName(node), NAME_FONT), textWidth(nodeSubtitle(node), SUB_FONT));
  const extra = node.kind === "service" ? SERVICE_TIP * 2 : 0;
  return Math.ceil(Math.max(84, text + NODE_PADDING_X * 2 + extra));
}

/** A string that changes exactly when the layout would: the sorted node and edge ids. */
export function topologyKey(nodes: GraphNode[], edges: GraphEdge[]): string {
  const n = nodes.map((x) => `${x.id}\u0000${x.name}\u0000${x.app ?? ""}`).sort();
  const e = edges.map((x) => `${x.id}\u0000${x.source}\u0000${x.target}`).sort();
  return `${n.join("\u0001")}\u0002${e.join("\u0001")}`;
}

/**
 * Idle workloads would otherwise float unconnected at the left edge. A workload that no
 * traffic reaches is linked to the service in its namespace named like its app label (the
 * Kubernetes convention Bookinfo follows), so reviews-v2 sits beside reviews-v1 before any
 * request goes to it. These links only shape the layout and are drawn faint, without numbers.
 */
export function inferLinks(nodes: GraphNode[], edges: GraphEdge[]): { id: string; source: string; target: string }[] {
  const reached = new Set(edges.map((e) => e.target));
  const services = new Map<string, string>();
  for (const n of nodes) if (n.kind === "service") services.set(`${n.namespace}/${shortName(n)}`, n.id);
  const links = [];
  for (const n of nodes) {
    if (n.kind !== "workload" || !n.app || reached.has(n.id)) continue;
    const svc = services.get(`${n.namespace}/${n.app}`);
    if (svc) links.push({ id: `${svc}~>${n.id}`, source: svc, target: n.id });
  }
  return links;
}

export function layoutGraph(nodes: GraphNode[], edges: GraphEdge[]): GraphLayout {
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 26, ranksep: 40, edgesep: 16, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  // Sorted input gives the same picture for the same topology, whatever order the API used.
  const sortedNodes = [...nodes].sort((a, b) => a.id.localeCompare(b.id));
  const sortedEdges = [...edges].sort((a, b) => a.id.localeCompare(b.id));
  for (const n of sortedNodes) g.setNode(n.id, { width: nodeWidth(n), height: NODE_HEIGHT });
  for (const e of sortedEdges) {
    if (!g.hasNode(e.source) || !g.hasNode(e.target)) continue;
    g.setEdge(e.source, e.target, { width: EDGE_LABEL_WIDTH, height: EDGE_LABEL_HEIGHT, labelpos: "c" }, e.id);
  }
  const links = inferLinks(sortedNodes, sortedEdges);
  for (const l of links) g.setEdge(l.source, l.target, { width: 0, height: 0 }, l.id);
  layout(g);

  const out: GraphLayout = { width: 0, height: 0, nodes: new Map(), edges: new Map(), links: [] };
  for (const id of g.nodes()) {
    const n = g.node(id) as { x: number; y: number; width: number; height: number };
    out.nodes.set(id, { x: n.x, y: n.y, width: n.width, height: n.height });
  }
  for (const e of sortedEdges) {
    if (!g.hasEdge(e.source, e.target, e.id)) continue;
    const label = g.edge(e.source, e.target, e.id) as { points?: Point[]; x?: number; y?: number };
    const points = label.points ?? [];
    const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    out.edges.set(e.id, { points, labelX: label.x ?? mid.x, labelY: label.y ?? mid.y });
  }
  for (const l of links) {
    const label = g.edge(l.source, l.target, l.id) as { points?: Point[] } | undefined;
    out.links.push({ ...l, points: label?.points ?? [] });
  }
  const graph = g.graph() as { width?: number; height?: number };
  out.width = Math.ceil(graph.width ?? 0);
  out.height = Math.ceil(graph.height ?? 0);
  return out;
}
