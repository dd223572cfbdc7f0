// Summarises a V8 .heapsnapshot (what `node --heapsnapshot-signal` writes) by class, as the
// DevTools Summary view does: per constructor name, how many objects, their own (shallow) size
// and the size they retain (everything only reachable through them). Retained sizes come from
// the dominator tree of the object graph (weak edges ignored), built with Cooper, Harvey and
// Kennedy's iterative algorithm over a depth-first post-order. A class's retained size counts
// each object not itself retained by another object of the same class, so nesting does not
// count twice.
import { readFileSync } from "node:fs";

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

export interface HeapSnapshotJson {
  snapshot: { meta: SnapshotMeta; node_count?: number; edge_count?: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface ClassSummary {
  name: string;
  count: number;
  selfBytes: number;
  retainedBytes: number;
}

export interface HeapSummary {
  nodes: number;
  /** Sum of every reachable object's own size: the JavaScript heap the snapshot saw. */
  totalBytes: number;
  /** Own size by kind of object (strings, code, arrays, ...), largest first. */
  byKind: { kind: string; count: number; selfBytes: number }[];
  /** Classes by retained size, largest first. */
  classes: ClassSummary[];
  /** The largest single strings (often module sources and descriptor text), with their start. */
  largestStrings: { bytes: number; preview: string }[];
  /** Strings by size band: many small ones, or a few big ones? */
  stringBands: { band: string; count: number; bytes: number }[];
}

const BANDS: [string, number][] = [["< 1 KiB", 1024], ["1-64 KiB", 65536], [">= 64 KiB", Infinity]];

/** The name DevTools shows for a node: the constructor for objects, "(kind)" for the rest. */
export function className(type: string, name: string): string {
  switch (type) {
    case "object":
    case "native":
      return name || "(anonymous object)";
    case "closure":
      return "(closure)";
    case "code":
      return "(compiled code)";
    case "string":
    case "concatenated string":
    case "sliced string":
      return "(string)";
    case "array":
      return "(array)";
    case "hidden":
      return "(system)";
    case "synthetic":
      return name;
    default:
      return `(${type})`;
  }
}

export function summariseHeapSnapshot(snap: HeapSnapshotJson, top = 20): HeapSummary {
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf("type");
  const nName = meta.node_fields.indexOf("name");
  const nSelf = meta.node_fields.indexOf("self_size");
  const nEdges = meta.node_fields.indexOf("edge_count");
  const eType = meta.edge_fields.indexOf("type");
  const eTo = meta.edge_fields.indexOf("to_node");
  const weak = meta.edge_types[0].indexOf("weak");
  const nodeTypes = meta.node_types[0];
  const { nodes, edges, strings } = snap;
  const n = nodes.length / nf;

  // Edges of node i are firstEdge[i] .. firstEdge[i+1] (in units of edges).
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) firstEdge[i + 1] = firstEdge[i]! + nodes[i * nf + nEdges]!;
  const target = (e: number) => edges[e * ef + eTo]! / nf;
  const strong = (e: number) => edges[e * ef + eType] !== weak;

  // Iterative depth-first search from the root (node 0): post-order numbers.
  const post = new Int32Array(n).fill(-1);
  const order: number[] = []; // node by post number
  const visited = new Uint8Array(n);
  const stack: number[] = [0];
  const cursor = new Uint32Array(n);
  visited[0] = 1;
  cursor[0] = firstEdge[0]!;
  while (stack.length) {
    const v = stack[stack.length - 1]!;
    let pushed = false;
    while (cursor[v]! < firstEdge[v + 1]!) {
      const e = cursor[v]!++;
      if (!strong(e)) continue;
      const w = target(e);
      if (visited[w]) continue;
      visited[w] = 1;
      cursor[w] = firstEdge[w]!;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      post[v] = order.length;
      order.push(v);
    }
  }
  const reachable = order.length;

  // Predecessors of each reachable node, by post number, in compressed form.
  const predCount = new Uint32Array(reachable + 1);
  for (let v = 0; v < n; v++) {
    if (post[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) if (strong(e)) predCount[post[target(e)]! + 1]!++;
  }
  for (let i = 0; i < reachable; i++) predCount[i + 1]! += predCount[i]!;
  const preds = new Uint32Array(predCount[reachable]!);
  const fill = predCount.slice(0, reachable);
  for (let v = 0; v < n; v++) {
    if (post[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) if (strong(e)) preds[fill[post[target(e)]!]!++] = post[v]!;
  }

  // Immediate dominators by post number; the root is the last one.
  const rootP = reachable - 1;
  const idom = new Int32Array(reachable).fill(-1);
  idom[rootP] = rootP;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (a < b) a = idom[a]!;
      while (b < a) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let p = rootP - 1; p >= 0; p--) {
      let d = -1;
      for (let k = predCount[p]!; k < predCount[p + 1]!; k++) {
        const q = preds[k]!;
        if (idom[q] === -1) continue;
        d = d === -1 ? q : intersect(q, d);
      }
      if (d !== -1 && idom[p] !== d) {
        idom[p] = d;
        changed = true;
      }
    }
  }

  // Retained sizes: a node dominates only nodes with smaller post numbers.
  const retained = new Float64Array(reachable);
  const klass: string[] = new Array(reachable);
  const kinds = new Map<string, { count: number; selfBytes: number }>();
  let totalBytes = 0;
  const big: { bytes: number; node: number }[] = [];
  const bands = BANDS.map(([band]) => ({ band, count: 0, bytes: 0 }));
  for (let p = 0; p < reachable; p++) {
    const v = order[p]!;
    const self = nodes[v * nf + nSelf]!;
    const type = nodeTypes[nodes[v * nf + nType]!] ?? "unknown";
    klass[p] = className(type, strings[nodes[v * nf + nName]!] ?? "");
    retained[p]! += self;
    totalBytes += self;
    const k = kinds.get(type) ?? { count: 0, selfBytes: 0 };
    k.count++;
    k.selfBytes += self;
    kinds.set(type, k);
    if (type === "string") {
      const band = bands[BANDS.findIndex(([, limit]) => self < limit)]!;
      band.count++;
      band.bytes += self;
      if (self >= 4096) big.push({ bytes: self, node: v });
    }
  }
  for (let p = 0; p < rootP; p++) retained[idom[p]!]! += retained[p]!;

  // Walk the dominator tree; an object counts for its class unless an ancestor is of that class.
  const childCount = new Uint32Array(reachable + 1);
  for (let p = 0; p < rootP; p++) childCount[idom[p]! + 1]!++;
  for (let i = 0; i < reachable; i++) childCount[i + 1]! += childCount[i]!;
  const children = new Uint32Array(Math.max(0, reachable - 1));
  const at = childCount.slice(0, reachable);
  for (let p = 0; p < rootP; p++) children[at[idom[p]!]!++] = p;
  const classes = new Map<string, ClassSummary>();
  const onPath = new Map<string, number>();
  const walk: { p: number; next: number }[] = [{ p: rootP, next: childCount[rootP]! }];
  const enter = (p: number) => {
    const name = klass[p]!;
    const c = classes.get(name) ?? { name, count: 0, selfBytes: 0, retainedBytes: 0 };
    c.count++;
    c.selfBytes += nodes[order[p]! * nf + nSelf]!;
    if (!onPath.get(name)) c.retainedBytes += retained[p]!;
    classes.set(name, c);
    onPath.set(name, (onPath.get(name) ?? 0) + 1);
  };
  enter(rootP);
  while (walk.length) {
    const top_ = walk[walk.length - 1]!;
    if (top_.next < childCount[top_.p + 1]!) {
      const c = children[top_.next++]!;
      enter(c);
      walk.push({ p: c, next: childCount[c]! });
    } else {
      walk.pop();
      const name = klass[top_.p]!;
      onPath.set(name, onPath.get(name)! - 1);
    }
  }
  classes.delete(klass[rootP]!); // the synthetic root retains everything
  return {
    nodes: reachable,
    totalBytes,
    byKind: [...kinds].map(([kind, k]) => ({ kind, ...k })).sort((a, b) => b.selfBytes - a.selfBytes),
    classes: [...classes.values()].sort((a, b) => b.retainedBytes - a.retainedBytes).slice(0, top),
    largestStrings: big.sort((a, b) => b.bytes - a.bytes).slice(0, 10).map(({ bytes, node }) => ({
      bytes,
      preview: (strings[nodes[node * nf + nName]!] ?? "").slice(0, 80).replace(/\s+/g, " "),
    })),
    stringBands: bands,
  };
}

export function readHeapSnapshot(path: string, top = 20): HeapSummary {
  return summariseHeapSnapshot(JSON.parse(readFileSync(path, "utf8")) as HeapSnapshotJson, top);
}
