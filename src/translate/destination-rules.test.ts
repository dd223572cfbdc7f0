import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, kubeService } from "../registry/fixtures.ts";
import { buildRegistry } from "../registry/build.ts";
import { findDestinationRule, mergeTrafficPolicy } from "./destination-rules.ts";
import { DEFAULT_MESH_CONFIG } from "./mesh-config.ts";

const mesh = DEFAULT_MESH_CONFIG;
const reviews = buildRegistry([kubeService("reviews", 9080, { namespace: "bookinfo" })], []).services.get("reviews.bookinfo.svc.cluster.local")!;

function dr(name: string, ns: string, host: string, extra: Record<string, unknown> = {}) {
  return cfg("DestinationRule", name, { host, ...extra }, { namespace: ns });
}

test("lookup order: proxy namespace, then service namespace, then root namespace", () => {
  const root = dr("root", "istio-system", "*.cluster.local");
  const svcNs = dr("svc", "bookinfo", "reviews");
  const proxyNs = dr("mine", "frontend", "reviews.bookinfo.svc.cluster.local");
  assert.equal(findDestinationRule([root, svcNs, proxyNs], "frontend", reviews, mesh)?.rule.metadata.name, "mine");
  assert.equal(findDestinationRule([root, svcNs], "frontend", reviews, mesh)?.rule.metadata.name, "svc");
  assert.equal(findDestinationRule([root], "frontend", reviews, mesh)?.rule.metadata.name, "root");
  // A rule in some unrelated namespace never applies.
  assert.equal(findDestinationRule([dr("x", "other", "reviews.bookinfo.svc.cluster.local")], "frontend", reviews, mesh), undefined);
});

test("short DR hosts resolve in the DR's namespace; exportTo '.' hides from other namespaces", () => {
  assert.equal(findDestinationRule([dr("a", "frontend", "reviews")], "frontend", reviews, mesh), undefined);
  const hidden = dr("svc", "bookinfo", "reviews", { exportTo: ["."] });
  assert.equal(findDestinationRule([hidden], "frontend", reviews, mesh), undefined);
  assert.equal(findDestinationRule([hidden], "bookinfo", reviews, mesh)?.rule.metadata.name, "svc");
});

test("most specific host wins within a namespace", () => {
  const rules = [
    dr("all", "bookinfo", "*"),
    dr("suffix", "bookinfo", "*.bookinfo.svc.cluster.local"),
    dr("exact", "bookinfo", "reviews.bookinfo.svc.cluster.local"),
  ];
  assert.equal(findDestinationRule(rules, "bookinfo", reviews, mesh)?.rule.metadata.name, "exact");
  assert.equal(findDestinationRule(rules.slice(0, 2), "bookinfo", reviews, mesh)?.rule.metadata.name, "suffix");
});

test("merge: top level, top-level port settings, subset, subset port settings", () => {
  const top = {
    loadBalancer: { simple: "RANDOM" },
    connectionPool: { tcp: { maxConnections: 10 } },
    portLevelSettings: [{ port: { number: 9080 }, outlierDetection: { consecutive5xxErrors: 7 } }],
  };
  // Port settings replace the four fields wholesale: load balancer and pool are gone.
  assert.deepEqual(mergeTrafficPolicy(top, undefined, 9080), { outlierDetection: { consecutive5xxErrors: 7 } });
  assert.deepEqual(mergeTrafficPolicy(top, undefined, 80), { loadBalancer: { simple: "RANDOM" }, connectionPool: { tcp: { maxConnections: 10 } } });
  const subset = { loadBalancer: { simple: "LEAST_REQUEST" } };
  assert.deepEqual(mergeTrafficPolicy(top, subset, 80), { loadBalancer: { simple: "LEAST_REQUEST" }, connectionPool: { tcp: { maxConnections: 10 } } });
  const subsetPorts = { ...subset, portLevelSettings: [{ port: { number: 80 }, connectionPool: { tcp: { maxConnections: 1 } } }] };
  assert.deepEqual(mergeTrafficPolicy(top, subsetPorts, 80), { connectionPool: { tcp: { maxConnections: 1 } } });
});
