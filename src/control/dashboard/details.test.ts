// The details panel from real parsed config, a real store (with a rejected edit) and a real
// registry: which objects apply to a service, a workload and each kind of edge, with state,
// file:line and messages; endpoints; and what the flags seen on an edge mean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "../../api/parse.ts";
import { ConfigStore } from "../../config/store.ts";
import { buildRegistry } from "../../registry/build.ts";
import { DEFAULT_MESH_CONFIG } from "../../translate/mesh-config.ts";
import type { ProxyNode } from "../../xds/node.ts";
import { buildGraph } from "./graph.ts";
import { edgeDetails, flagHints, nodeDetails, type DetailsInput } from "./details.ts";
import type { CounterRate } from "./rate-window.ts";

const GOOD = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: productpage, namespace: default }
spec: { selector: { app: productpage }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-route, namespace: default }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews.default.svc.cluster.local, subsets: [{ name: v1, labels: { version: v1 } }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewers, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }] }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: mesh-strict, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec: { egress: [{ hosts: ["./*"] }] }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: logs, namespace: default }
spec: { accessLogging: [{ providers: [{ name: envoy }] }] }
`;

/** The same folder after an edit that breaks the VirtualService (a weight over 100). */
const BROKEN = GOOD.replace("route: [{ destination: { host: reviews, subset: v1 } }]", "route: [{ destination: { host: reviews, subset: v1 }, weight: 300 }]");

function proxy(name: string, app: string, version: string, ip: string): ProxyNode {
  return {
    id: `sidecar~${ip}~${name}.default~default.svc.cluster.local`, type: "sidecar", ip, name, namespace: "default", labels: { app, version },
    serviceAccount: app, ports: [{ name: "http", containerPort: 9080 }], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: true,
  };
}

function labels(reporter: string, from: string, svc: string, to: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    reporter, source_workload: from, source_workload_namespace: "default", destination_workload: to, destination_workload_namespace: "default",
    destination_service: svc, request_protocol: "http", response_code: "200", response_flags: "-", connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown", ...extra,
  };
}

function input(): DetailsInput {
  const store = new ConfigStore();
  store.update(parseConfigText(GOOD, "/cfg/istio.yaml"));
  store.update(parseConfigText(BROKEN, "/cfg/istio.yaml"));
  const proxies = [proxy("productpage-v1", "productpage", "v1", "127.1.1.1"), proxy("reviews-v1", "reviews", "v1", "127.1.1.2")];
  const registry = buildRegistry(store.objects(), proxies);
  const REVIEWS = "reviews.default.svc.cluster.local";
  const counters: CounterRate[] = [
    { name: "istio_requests_total", labels: labels("source", "productpage-v1", REVIEWS, "reviews-v1"), rate: 8 },
    { name: "istio_requests_total", labels: labels("source", "productpage-v1", REVIEWS, "unknown", { response_code: "503", response_flags: "UH" }), rate: 2 },
    { name: "istio_requests_total", labels: labels("destination", "productpage-v1", REVIEWS, "reviews-v1"), rate: 8 },
  ];
  const graph = buildGraph({
    now: 0, windowSeconds: 10, scrape: { proxies: 2, failed: [] }, samples: { counters, histograms: [] },
    services: [...registry.services.values()], workloads: [...registry.workloads.values()], proxies: proxies.map((node) => ({ node, types: [{ state: "SYNCED" }] })),
  });
  return { graph, objects: store.objects(), status: store.status(), registry, mesh: DEFAULT_MESH_CONFIG };
}

const kinds = (d: { config: { kind: string; name: string }[] }) => d.config.map((c) => `${c.kind}/${c.name}`).sort();

test("a service: its VirtualService (rejected edit, last good in force) and DestinationRule, the policies of its workloads, endpoints", () => {
  const d = nodeDetails(input(), "service:reviews.default.svc.cluster.local");
  assert.ok(d);
  assert.equal(d.kind, "service");
  assert.equal(d.title, "reviews.default.svc.cluster.local");
  assert.deepEqual(kinds(d), ["AuthorizationPolicy/reviews-viewers", "DestinationRule/reviews", "PeerAuthentication/mesh-strict", "Telemetry/logs", "VirtualService/reviews-route"]);
  const vs = d.config.find((c) => c.kind === "VirtualService")!;
  assert.equal(vs.state, "rejected-kept-last-good");
  assert.equal(vs.namespace, "default");
  assert.match(vs.where, /^\/cfg\/istio\.yaml:\d+$/);
  assert.ok(vs.messages.some((m) => /weight/.test(m)), vs.messages.join("\n"));
  assert.equal(d.config.find((c) => c.kind === "DestinationRule")!.state, "accepted");
  assert.deepEqual(d.endpoints, [{ address: "127.1.1.2:9080", healthy: true, workload: "reviews-v1.default" }]);
  assert.equal(d.numbers.rps, 10);
  assert.deepEqual(d.numbers.flags, { UH: 2 });
  assert.ok(d.hints.some((h) => h.startsWith("UH: ")), d.hints.join("\n"));
  assert.ok(d.hints.some((h) => /Rejected config/.test(h)), "the describe model's hint about the rejected edit");
});

test("a workload: the policies, Sidecar and Telemetry selecting it, and the routing of the service it serves", () => {
  const d = nodeDetails(input(), "workload:default/reviews-v1");
  assert.ok(d);
  assert.equal(d.title, "reviews-v1.default");
  assert.deepEqual(kinds(d), ["AuthorizationPolicy/reviews-viewers", "DestinationRule/reviews", "PeerAuthentication/mesh-strict", "Sidecar/default", "Telemetry/logs", "VirtualService/reviews-route"]);
  assert.equal(d.numbers.rps, 8);
  assert.equal(d.numbers.mtls, true);
  assert.deepEqual(d.endpoints, [{ address: "127.1.1.2:9080", healthy: true, workload: "reviews-v1.default" }]);
  const pp = nodeDetails(input(), "workload:default/productpage-v1");
  assert.ok(pp);
  assert.ok(!kinds(pp).includes("AuthorizationPolicy/reviews-viewers"), "a selector for app=reviews does not select productpage");
});

test("edges: client -> service shows the client's Sidecar and the service's rules; flags explained", () => {
  const i = input();
  const e = edgeDetails(i, "workload:default/productpage-v1->service:reviews.default.svc.cluster.local");
  assert.ok(e);
  assert.equal(e.kind, "edge");
  assert.equal(e.title, "productpage-v1.default → reviews.default.svc.cluster.local");
  assert.deepEqual(e.numbers, { rps: 10, errorRate: 0.2, p99Ms: null, mtls: true, responseCodes: { "200": 8, "503": 2 }, flags: { UH: 2 } });
  assert.ok(kinds(e).includes("Sidecar/default") && kinds(e).includes("VirtualService/reviews-route"), kinds(e).join(","));
  assert.match(e.hints[0], /^UH: the cluster has no healthy endpoint.*\(UH at 2 req\/s\)$/);

  const s = edgeDetails(i, "service:reviews.default.svc.cluster.local->workload:default/reviews-v1");
  assert.ok(s);
  assert.ok(kinds(s).includes("AuthorizationPolicy/reviews-viewers") && kinds(s).includes("DestinationRule/reviews") && !kinds(s).includes("Sidecar/default"), kinds(s).join(","));
  assert.deepEqual(s.endpoints, [{ address: "127.1.1.2:9080", healthy: true, workload: "reviews-v1.default" }]);
});

test("unknown ids are undefined (the route answers 404)", () => {
  const i = input();
  assert.equal(nodeDetails(i, "service:nope.default.svc.cluster.local"), undefined);
  assert.equal(nodeDetails(i, "workload:default"), undefined);
  assert.equal(nodeDetails(i, "garbage"), undefined);
  assert.equal(edgeDetails(i, "workload:default/reviews-v1->service:productpage.default.svc.cluster.local"), undefined);
  assert.equal(edgeDetails(i, "->"), undefined);
});

test("flag hints: one line per flag, busiest first, and 5xx without a flag blamed on the application", () => {
  const lines = flagHints({ NR: 0.5, "URX,UF": 3 }, 0.4);
  assert.match(lines[0], /^URX: retries were exhausted/);
  assert.match(lines[1], /^UF: connecting to the upstream failed/);
  assert.match(lines[2], /^NR: no route/);
  assert.deepEqual(flagHints({}, 0.1), ["5xx without a response flag: the application itself answered with an error; its own log says why."]);
  assert.match(flagHints({ ZZ: 1 }, 0)[0], /no explanation/);
});
