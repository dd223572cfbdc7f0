// Re-runs the layout only when the set of nodes or edges changes; between polls the numbers
// change but every box stays where the operator last saw it.
import { useMemo } from "react";
import type { GraphEdge, GraphNode } from "../api/types.ts";
import { layoutGraph, topologyKey, type GraphLayout } from "./layout.ts";

export function useStableLayout(nodes: GraphNode[], edges: GraphEdge[]): GraphLayout {
  const key = topologyKey(nodes, edges);
  // Only `key` is a dependency on purpose: the layout reads ids and names, which the key covers.
  return useMemo(() => layoutGraph(nodes, edges), [key]);
}
