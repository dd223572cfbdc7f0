import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { cfg } from "../registry/fixtures.ts";
import { applicablePeerAuthentications, effectiveMtlsMode, type MtlsMode, type PeerAuthWorkload } from "./peer-authentication.ts";

const ROOT = "istio-system";

/** A PeerAuthentication as the loader gives it, with an optional creation time (Kubernetes sets one). */
function pa(name: string, namespace: string, spec: Record<string, unknown>, creationTimestamp?: string): ConfigObject {
  const o = cfg("PeerAuthentication", name, spec, { namespace });
  if (creationTimestamp !== undefined) Object.assign(o.metadata, { creationTimestamp });
  return o;
}

const mode = (m: string) => ({ mtls: { mode: m } });
const finance: PeerAuthWorkload = { namespace: "foo", labels: { app: "finance", version: "v1" } };
const billing: PeerAuthWorkload = { namespace: "foo", labels: { app: "billing" } };
const elsewhere: PeerAuthWorkload = { namespace: "bar", labels: { app: "finance" } };

function modeOf(objects: ConfigObject[], w: PeerAuthWorkload, port = 8000): MtlsMode {
  return effectiveMtlsMode(objects, w, port, ROOT);
}

test("no PeerAuthentication at all: PERMISSIVE, Istio's default", () => {
  assert.equal(modeOf([], finance), "PERMISSIVE");
  // Other kinds never count, even with an mtls-looking spec.
  assert.equal(modeOf([cfg("DestinationRule", "x", { host: "a", ...mode("STRICT") }, { namespace: ROOT })], finance), "PERMISSIVE");
});

test("Istio's matrix: mesh STRICT, namespace foo PERMISSIVE, workload finance DISABLE", () => {
  const objects = [
    pa("default", ROOT, mode("STRICT")),
    pa("default", "foo", mode("PERMISSIVE")),
    pa("finance", "foo", { selector: { matchLabels: { app: "finance" } }, ...mode("DISABLE") }),
  ];
  assert.equal(modeOf(objects, finance), "DISABLE", "the workload policy is the most specific");
  assert.equal(modeOf(objects, billing), "PERMISSIVE", "same namespace, selector does not match: the namespace policy");
  assert.equal(modeOf(objects, elsewhere), "STRICT", "another namespace without its own policy: the mesh policy");
  assert.equal(modeOf(objects, { namespace: ROOT, labels: { app: "finance" } }), "STRICT", "a root-namespace workload: the mesh policy is its namespace policy too");
  const [w, ns, mesh] = applicablePeerAuthentications(objects, finance, ROOT);
  assert.deepEqual([w?.metadata.name, ns?.metadata.namespace, mesh?.metadata.namespace], ["finance", "foo", ROOT]);
  assert.deepEqual(applicablePeerAuthentications(objects, elsewhere, ROOT).map((o) => o?.metadata.namespace), [undefined, undefined, ROOT]);
});

test("UNSET (or no mtls at all) inherits from the next level up, at every level: every combination of the three levels", () => {
  // Each level either has no policy, a policy with mtls left out, UNSET, or a mode.
  const settings = ["none", "omitted", "UNSET", "STRICT", "PERMISSIVE", "DISABLE"] as const;
  const specOf = (s: (typeof settings)[number]): Record<string, unknown> | undefined =>
    s === "none" ? undefined : s === "omitted" ? {} : mode(s);
  const set = (s: string): s is MtlsMode => s === "STRICT" || s === "PERMISSIVE" || s === "DISABLE";
  let cases = 0;
  for (const m of settings) for (const n of settings) for (const w of settings) {
    if ([m, n, w].filter((s) => s === "omitted").length > 1) continue; // "omitted" behaves as UNSET: one at a time is enough
    const objects: ConfigObject[] = [];
    const ms = specOf(m), ns = specOf(n), ws = specOf(w);
    if (ms) objects.push(pa("mesh", ROOT, ms));
    if (ns) objects.push(pa("ns", "foo", ns));
    if (ws) objects.push(pa("wl", "foo", { selector: { matchLabels: { app: "finance" } }, ...ws }));
    // The rule as Istio's reference states it: the most specific level that sets a mode decides.
    const expected = [w, n, m].find(set) ?? "PERMISSIVE";
    assert.equal(modeOf(objects, finance), expected, `mesh=${m} namespace=${n} workload=${w}`);
    cases++;
  }
  assert.equal(cases, 6 ** 3 - 16);
});

test("portLevelMtls overrides the workload policy's mode for that port only", () => {
  const objects = [
    pa("default", "foo", mode("PERMISSIVE")),
    pa("finance", "foo", { selector: { matchLabels: { app: "finance" } }, ...mode("STRICT"), portLevelMtls: { 8080: { mode: "DISABLE" }, 9090: { mode: "PERMISSIVE" } } }),
  ];
  assert.equal(modeOf(objects, finance, 8080), "DISABLE");
  assert.equal(modeOf(objects, finance, 9090), "PERMISSIVE");
  assert.equal(modeOf(objects, finance, 9080), "STRICT", "a port not listed: the policy's own mode");
  assert.equal(modeOf(objects, billing, 8080), "PERMISSIVE", "another workload is not touched by the port settings");
});

test("a port-level UNSET inherits the workload mode, which itself may inherit from namespace and mesh", () => {
  const sel = { selector: { matchLabels: { app: "finance" } } };
  const strictWl = [pa("finance", "foo", { ...sel, ...mode("DISABLE"), portLevelMtls: { 8080: { mode: "UNSET" } } })];
  assert.equal(modeOf(strictWl, finance, 8080), "DISABLE");
  // Workload UNSET with a port override (Istio's "inherit, but overwrite port 8080" example).
  const inherit = [
    pa("default", ROOT, mode("STRICT")),
    pa("finance", "foo", { ...sel, ...mode("UNSET"), portLevelMtls: { 8080: { mode: "DISABLE" }, 9090: { mode: "UNSET" }, 7070: {} } }),
  ];
  assert.equal(modeOf(inherit, finance, 8080), "DISABLE");
  assert.equal(modeOf(inherit, finance, 9090), "STRICT", "port UNSET -> workload UNSET -> mesh STRICT");
  assert.equal(modeOf(inherit, finance, 7070), "STRICT", "a port entry without a mode is UNSET");
  assert.equal(modeOf(inherit, finance, 80), "STRICT");
  // The same with a namespace policy in between.
  assert.equal(modeOf([...inherit, pa("default", "foo", mode("PERMISSIVE"))], finance, 9090), "PERMISSIVE");
});

test("portLevelMtls only counts on the workload-level policy", () => {
  // Istio's validation refuses portLevelMtls without a selector; if one gets through it is ignored.
  const objects = [pa("default", "foo", { ...mode("STRICT"), portLevelMtls: { 8080: { mode: "DISABLE" } } })];
  assert.equal(modeOf(objects, finance, 8080), "STRICT");
});

test("selectors: a subset of the workload's labels matches; a mismatch, another namespace or an empty selector do not make a workload policy", () => {
  const mesh = pa("default", ROOT, mode("STRICT"));
  assert.equal(modeOf([mesh, pa("x", "foo", { selector: { matchLabels: { app: "finance" } }, ...mode("DISABLE") })], finance), "DISABLE", "subset of {app, version}");
  assert.equal(modeOf([mesh, pa("x", "foo", { selector: { matchLabels: { app: "finance", version: "v2" } }, ...mode("DISABLE") })], finance), "STRICT", "version differs");
  assert.equal(modeOf([mesh, pa("x", "foo", { selector: { matchLabels: { tier: "db" } }, ...mode("DISABLE") })], finance), "STRICT", "label absent");
  assert.equal(modeOf([mesh, pa("x", "bar", { selector: { matchLabels: { app: "finance" } }, ...mode("DISABLE") })], finance), "STRICT", "a selector reaches its own namespace only");
  // An empty matchLabels selects everything in the namespace: it is the namespace policy.
  const emptySel = [mesh, pa("x", "foo", { selector: { matchLabels: {} }, ...mode("DISABLE") })];
  assert.equal(modeOf(emptySel, billing), "DISABLE");
  assert.equal(applicablePeerAuthentications(emptySel, billing, ROOT)[0], undefined);
  assert.equal(applicablePeerAuthentications(emptySel, billing, ROOT)[1]?.metadata.name, "x");
  assert.equal(modeOf([mesh, pa("x", "foo", { selector: {}, ...mode("DISABLE") })], billing), "DISABLE", "selector without matchLabels: namespace-wide");
});

test("several policies at one level: the oldest by creationTimestamp wins, then the name; input order never matters", () => {
  const sel = { selector: { matchLabels: { app: "finance" } } };
  const levels: [string, (name: string, m: string, ts?: string) => ConfigObject][] = [
    ["workload", (name, m, ts) => pa(name, "foo", { ...sel, ...mode(m) }, ts)],
    ["namespace", (name, m, ts) => pa(name, "foo", mode(m), ts)],
    ["mesh", (name, m, ts) => pa(name, ROOT, mode(m), ts)],
  ];
  for (const [level, make] of levels) {
    const older = make("zeta", "DISABLE", "2024-01-01T00:00:00Z");
    const newer = make("alpha", "STRICT", "2024-06-01T00:00:00Z");
    assert.equal(modeOf([newer, older], finance), "DISABLE", `${level}: the older policy, though its name sorts later`);
    assert.equal(modeOf([older, newer], finance), "DISABLE", `${level}: whatever the input order`);
    const sameTimeA = make("a-policy", "STRICT", "2024-01-01T00:00:00Z");
    const sameTimeB = make("b-policy", "DISABLE", "2024-01-01T00:00:00Z");
    assert.equal(modeOf([sameTimeB, sameTimeA], finance), "STRICT", `${level}: same time, the first name`);
    assert.equal(modeOf([make("b", "DISABLE"), make("a", "STRICT")], finance), "STRICT", `${level}: no timestamps (files), the first name`);
  }
});

test("creation times are compared as instants, not as text", () => {
  // 10:00+02:00 is 08:00Z, older than 09:00Z; fractional seconds are later than whole ones.
  const objects = [
    pa("utc", "foo", mode("STRICT"), "2024-01-01T09:00:00Z"),
    pa("offset", "foo", mode("DISABLE"), "2024-01-01T10:00:00+02:00"),
  ];
  assert.equal(modeOf(objects, finance), "DISABLE");
  const fractional = [
    pa("later", "foo", mode("STRICT"), "2024-01-01T09:00:00.500Z"),
    pa("whole", "foo", mode("DISABLE"), "2024-01-01T09:00:00Z"),
  ];
  assert.equal(modeOf(fractional, finance), "DISABLE");
});

test("a policy with a selector in the root namespace is ignored, as Istio ignores it (also for root-namespace workloads)", () => {
  // Istio: "PeerAuthentication policies with workload selectors are ignored when deployed in the
  // root namespace" (ComposePeerAuthentication keeps workload-level policies outside it only).
  const objects = [
    pa("default", ROOT, mode("PERMISSIVE")),
    pa("gateway-strict", ROOT, { selector: { matchLabels: { app: "finance" } }, ...mode("STRICT"), portLevelMtls: { 8080: { mode: "DISABLE" } } }),
  ];
  const inRoot: PeerAuthWorkload = { namespace: ROOT, labels: { app: "finance" } };
  assert.equal(modeOf(objects, inRoot), "PERMISSIVE");
  assert.equal(modeOf(objects, inRoot, 8080), "PERMISSIVE");
  assert.equal(modeOf(objects, finance), "PERMISSIVE", "nor does it reach other namespaces");
  assert.deepEqual(applicablePeerAuthentications(objects, inRoot, ROOT).map((o) => o?.metadata.name), [undefined, "default", "default"]);
  // It does not stand in for a mesh policy either.
  assert.equal(modeOf([objects[1]!], finance), "PERMISSIVE");
  assert.equal(modeOf([objects[1]!], inRoot), "PERMISSIVE");
});

test("the root namespace is the mesh's setting, whatever it is called", () => {
  const objects = [pa("default", "mesh-config", mode("STRICT"))];
  assert.equal(effectiveMtlsMode(objects, finance, 80, "mesh-config"), "STRICT");
  assert.equal(effectiveMtlsMode(objects, finance, 80, ROOT), "PERMISSIVE", "a namespace that is not the root is not mesh-wide");
});
