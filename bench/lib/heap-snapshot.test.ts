// Retained sizes from a small hand-made snapshot whose dominator tree is known, and from a
// real snapshot of this process holding a known amount of memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { className, readHeapSnapshot, summariseHeapSnapshot, type HeapSnapshotJson } from "./heap-snapshot.ts";

const NODE_TYPES = ["hidden", "object", "string", "closure", "synthetic"];
const EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"];

/** nodes: [type, name, self size]; edges: [from, to, edge type]. */
function snapshot(nodes: [string, string, number][], edges: [number, number, string][]): HeapSnapshotJson {
  const strings: string[] = [];
  const str = (s: string) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const flatNodes: number[] = [];
  const flatEdges: number[] = [];
  nodes.forEach(([type, name, size], i) => {
    const mine = edges.filter((e) => e[0] === i);
    flatNodes.push(NODE_TYPES.indexOf(type), str(name), i + 1, size, mine.length);
    for (const [, to, et] of mine) flatEdges.push(EDGE_TYPES.indexOf(et), str("e"), to * 5);
  });
  return {
    snapshot: { meta: { node_fields: ["type", "name", "id", "self_size", "edge_count"], node_types: [NODE_TYPES], edge_fields: ["type", "name_or_index", "to_node"], edge_types: [EDGE_TYPES] } },
    nodes: flatNodes, edges: flatEdges, strings,
  };
}

//  root -> A(Holder 100) -> B(Leaf 50), D(Leaf 30), H2(Holder 20) -> S(string 7)
//  root -> C(Other 10) -> B            D -weak-> C       root -weak-> G(Ghost 1000)
const SNAP = snapshot(
  [["synthetic", "(root)", 0], ["object", "Holder", 100], ["object", "Other", 10], ["object", "Leaf", 50], ["object", "Leaf", 30], ["object", "Holder", 20], ["string", "s", 7], ["object", "Ghost", 1000]],
  [[0, 1, "element"], [0, 2, "element"], [1, 3, "property"], [1, 4, "property"], [1, 5, "property"], [2, 3, "property"], [5, 6, "property"], [4, 2, "weak"], [0, 7, "weak"]],
);

test("retained sizes follow the dominator tree: shared objects belong to neither holder", () => {
  const s = summariseHeapSnapshot(SNAP);
  const by = Object.fromEntries(s.classes.map((c) => [c.name, c]));
  // A retains itself, D and H2 (with S); B is also reachable through C, so the root keeps it.
  assert.deepEqual(by.Holder, { name: "Holder", count: 2, selfBytes: 120, retainedBytes: 157 });
  assert.deepEqual(by.Leaf, { name: "Leaf", count: 2, selfBytes: 80, retainedBytes: 80 });
  assert.deepEqual(by.Other, { name: "Other", count: 1, selfBytes: 10, retainedBytes: 10 });
  assert.equal(by["(string)"]?.retainedBytes, 7);
  assert.equal(s.classes[0]!.name, "Holder");
});

test("objects reachable only through weak edges are not counted, and weak edges retain nothing", () => {
  const s = summariseHeapSnapshot(SNAP);
  assert.equal(s.classes.find((c) => c.name === "Ghost"), undefined);
  assert.equal(s.nodes, 7);
  assert.equal(s.totalBytes, 217);
  assert.deepEqual(s.byKind.map((k) => k.kind), ["object", "string", "synthetic"]);
});

test("class names: constructors for objects, DevTools' bracketed names for the rest", () => {
  assert.equal(className("object", "Map"), "Map");
  assert.equal(className("closure", "onRequest"), "(closure)");
  assert.equal(className("concatenated string", "x"), "(string)");
  assert.equal(className("code", "x"), "(compiled code)");
  assert.equal(className("bigint", ""), "(bigint)");
});

class Retainer {
  items: { n: number }[];
  constructor(n: number) {
    this.items = Array.from({ length: n }, (_, i) => ({ n: i }));
  }
}

test("a real snapshot: an object holding 50,000 small objects retains about their size", () => {
  const dir = mkdtempSync(join(tmpdir(), "heap-snapshot-test-"));
  const keep = new Retainer(50_000);
  try {
    const file = writeHeapSnapshot(join(dir, "t.heapsnapshot"));
    const s = readHeapSnapshot(file, 50);
    const r = s.classes.find((c) => c.name === "Retainer");
    assert.ok(r, `Retainer among the largest classes: ${s.classes.map((c) => c.name).join(", ")}`);
    assert.equal(r.count, 1);
    // Each { n } object is at least 16 bytes on V8's heap; the array adds 8 bytes per element at least.
    assert.ok(r.retainedBytes >= 50_000 * 24, `retained ${r.retainedBytes}`);
    assert.ok(r.retainedBytes < 50_000 * 200, `retained ${r.retainedBytes}`);
    assert.ok(keep.items.length === 50_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
