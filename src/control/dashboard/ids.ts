// Node and edge ids of the dashboard graph, made and read in one place:
// "workload:<ns>/<name>", "service:<hostname>", "unknown", and "<sourceId>-><targetId>".

export const UNKNOWN_ID = "unknown";

export type NodeRef =
  | { kind: "workload"; namespace: string; name: string }
  | { kind: "service"; hostname: string }
  | { kind: "unknown" };

export function workloadId(namespace: string, name: string): string {
  return `workload:${namespace}/${name}`;
}

export function serviceId(hostname: string): string {
  return `service:${hostname}`;
}

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

/** Reads a node id; undefined when it is not one. */
export function parseNodeRef(id: string): NodeRef | undefined {
  if (id === UNKNOWN_ID) return { kind: "unknown" };
  if (id.startsWith("service:") && id.length > 8) return { kind: "service", hostname: id.slice(8) };
  if (id.startsWith("workload:")) {
    const rest = id.slice(9);
    const slash = rest.indexOf("/");
    if (slash > 0 && slash < rest.length - 1) return { kind: "workload", namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
  }
  return undefined;
}

/** Splits an edge id into its two node ids (neither side contains "->"). */
export function parseEdgeId(id: string): { source: string; target: string } | undefined {
  const at = id.indexOf("->");
  if (at <= 0 || at >= id.length - 2) return undefined;
  const source = id.slice(0, at);
  const target = id.slice(at + 2);
  if (!parseNodeRef(source) || !parseNodeRef(target)) return undefined;
  return { source, target };
}
