// Number and name formatting shared by the graph, the side panel and the proxies table.
import type { GraphNode } from "./api/types.ts";

/** Requests per second: 3 significant digits, never "0" for a trickle. */
export function formatRps(rps: number): string {
  if (!Number.isFinite(rps) || rps <= 0) return "0";
  if (rps < 0.01) return "<0.01";
  if (rps < 10) return rps.toFixed(2);
  if (rps < 100) return rps.toFixed(1);
  return Math.round(rps).toLocaleString("en-US");
}

/** An error ratio 0..1 as a percentage. */
export function formatPercent(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return "0%";
  const pct = ratio * 100;
  if (pct < 0.1) return "<0.1%";
  if (pct < 10) return `${pct.toFixed(1)}%`;
  return `${Math.round(pct)}%`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatBytesPerSecond(bps: number): string {
  if (bps < 1024) return `${Math.round(bps)} B/s`;
  if (bps < 1024 * 1024) return `${(bps / 1024).toFixed(1)} KiB/s`;
  return `${(bps / 1024 / 1024).toFixed(1)} MiB/s`;
}

/** "3 s", "4 min", "2 h 5 min" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** The short label a node is drawn with: "reviews" for reviews.default.svc.cluster.local. */
export function shortName(node: Pick<GraphNode, "kind" | "name" | "namespace">): string {
  if (node.kind !== "service") return node.name;
  const suffix = `.${node.namespace}.svc.cluster.local`;
  return node.name.endsWith(suffix) ? node.name.slice(0, -suffix.length) : node.name;
}

/** The smaller second line under a node's name (its shape already says workload or service). */
export function nodeSubtitle(node: GraphNode): string {
  if (node.kind === "unknown") return "outside the mesh";
  return node.namespace || (node.kind === "service" ? "service" : "workload");
}
