import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeSubset } from "./resource-set.ts";
import { decodeResource } from "./protos.ts";
import { TYPE, type Cluster } from "./envoy-types.ts";

function cluster(name: string, timeoutS: number): Cluster {
  return { name, type: "STATIC", connect_timeout: { seconds: timeoutS } };
}

test("equal content in different maps gives the same version, whichever proxy asks first", () => {
  const a = cluster("a", 1), b = cluster("b", 2);
  const first = encodeSubset(TYPE.cluster, new Map<string, object>([["b", b], ["a", a]]), [], true);
  // A second proxy: its own Map, the same shared objects.
  const second = encodeSubset(TYPE.cluster, new Map<string, object>([["a", a], ["b", b]]), [], true);
  assert.equal(second.version, first.version);
  assert.deepEqual(second.names, ["a", "b"]);
  // Fresh but equal objects (another state version) encode to the same bytes and version.
  const fresh = encodeSubset(TYPE.cluster, new Map<string, object>([["a", cluster("a", 1)], ["b", cluster("b", 2)]]), [], true);
  assert.equal(fresh.version, first.version);
});

test("a changed resource, a different selection or a renamed entry changes the version", () => {
  const a = cluster("a", 1), b = cluster("b", 2);
  const all = new Map<string, object>([["a", a], ["b", b]]);
  const both = encodeSubset(TYPE.cluster, all, [], true);
  const changed = encodeSubset(TYPE.cluster, new Map<string, object>([["a", a], ["b", cluster("b", 3)]]), [], true);
  assert.notEqual(changed.version, both.version);
  assert.equal((decodeResource(changed.resources[1]!) as Cluster).connect_timeout?.seconds, 3);

  const onlyA = encodeSubset(TYPE.cluster, all, ["a", "missing", "a"], false);
  assert.deepEqual(onlyA.names, ["a"]);
  assert.notEqual(onlyA.version, both.version);

  // The same object under another name is a different subset, not a cache hit of the first.
  const renamed = encodeSubset(TYPE.cluster, new Map<string, object>([["z", a]]), ["z"], false);
  const plain = encodeSubset(TYPE.cluster, new Map<string, object>([["a", a]]), ["a"], false);
  assert.deepEqual(renamed.names, ["z"]);
  assert.deepEqual(plain.names, ["a"]);
  assert.notEqual(renamed.version, plain.version);
});

test("an empty selection has a stable version and no resources", () => {
  const none = encodeSubset(TYPE.route, undefined, [], false);
  assert.deepEqual(none.resources, []);
  assert.equal(encodeSubset(TYPE.route, new Map(), [], false).version, none.version);
});

test("a resource that does not encode throws naming it", () => {
  const bad = { name: "bad", connect_timeout: { seconds: "not a number" } };
  assert.throws(() => encodeSubset(TYPE.cluster, new Map<string, object>([["bad", bad]]), [], true), /resource "bad"/);
});
