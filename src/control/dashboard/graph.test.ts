// The graph builder on made-up window samples: which reporter makes which edge, mTLS from the
// destination, traffic from outside the mesh, idle registry nodes, TCP and gRPC edges.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Service, Workload } from "../../registry/types.ts";
import { buildGraph, proxySynced, type GraphInput } from "./graph.ts";
import type { CounterRate, HistogramIncrease, WindowSamples } from "./rate-window.ts";
import type { GraphEdge, GraphNode } from "./contract.ts";
import { healthOf } from "./contract.ts";

const NS = "default";
const fqdn = (s: string) => `${s}.${NS}.svc.cluster.local`;

function service(name: string, hostname = fqdn(name)): Service {
  return { hostname, namespace: NS, aliases: hostname === fqdn(name) ? [name, `${name}.${NS}`] : [], ports: [{ name: "http", number: 9080, protocol: "HTTP", targetPort: 9080 }], resolution: "STATIC", location: "MESH_INTERNAL", origin: `Service/${NS}/${name}` };
}

function workload(name: string, app: string, version: string): Workload {
  return { uid: `sidecar~x~${name}`, name, namespace: NS, labels: { app, version }, serviceAccount: app, address: "127.0.0.1", ports: {}, hasSidecar: true, origin: "auto-registered" };
}

/** Istio's labels for one series; `from`/`to` are workload names, "unknown" for none. */
function labels(reporter: "source" | "destination", from: string, svc: string, to: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    reporter,
    source_workload: from, source_workload_namespace: from === "unknown" ? "unknown" : NS, source_app: from.split("-")[0],
    destination_workload: to, destination_workload_namespace: to === "unknown" ? "unknown" : NS, destination_app: to.split("-")[0], destination_version: to.split("-")[1] ?? "unknown",
    destination_service: svc, destination_service_name: svc.split(".")[0], destination_service_namespace: NS,
    request_protocol: "http", response_code: "200", response_flags: "-",
    connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
    ...extra,
  };
}

const req = (rate: number, l: Record<string, string>): CounterRate => ({ name: "istio_requests_total", labels: l, rate });
const tcp = (name: string, rate: number, l: Record<string, string>): CounterRate => ({ name, labels: l, rate });
/** Duration increases with every observation in (25, 50] ms. */
const dur = (n: number, l: Record<string, string>): HistogramIncrease => ({ name: "istio_request_duration_milliseconds", labels: l, buckets: [{ le: 25, count: 0 }, { le: 50, count: n }, { le: Infinity, count: n }] });

const REVIEWS = fqdn("reviews");
const PRODUCTPAGE = fqdn("productpage");

function scenario(): GraphInput {
  const toReviews = labels("source", "productpage-v1", REVIEWS, "reviews-v1");
  const samples: WindowSamples = {
    counters: [
      // productpage's sidecar, as client.
      req(9, toReviews),
      req(1, labels("source", "productpage-v1", REVIEWS, "unknown", { response_code: "503", response_flags: "UF" })),
      req(1, labels("source", "productpage-v1", "api.example.com", "unknown", { destination_service_name: "api.example.com" })),
      // reviews' sidecars, as servers (mTLS).
      req(5, labels("destination", "productpage-v1", REVIEWS, "reviews-v1")),
      req(4, labels("destination", "productpage-v1", REVIEWS, "reviews-v2")),
      // productpage called from outside the mesh, in plaintext.
      req(2, labels("destination", "unknown", PRODUCTPAGE, "productpage-v1", { connection_security_policy: "none" })),
      // A gRPC call and a TCP connection.
      req(3, labels("source", "reviews-v2", fqdn("ratings"), "ratings-v1", { request_protocol: "grpc" })),
      tcp("istio_tcp_sent_bytes_total", 1000, labels("source", "reviews-v1", fqdn("mysql"), "unknown")),
      tcp("istio_tcp_received_bytes_total", 500, labels("source", "reviews-v1", fqdn("mysql"), "unknown")),
      tcp("istio_tcp_connections_opened_total", 0.5, labels("source", "reviews-v1", fqdn("mysql"), "unknown")),
    ],
    histograms: [dur(100, toReviews)],
  };
  return {
    now: 1_000, windowSeconds: 10, scrape: { proxies: 4, failed: [] }, samples,
    services: [service("productpage"), service("reviews"), service("ratings"), service("details"), service("api", "api.example.com")],
    workloads: [workload("productpage-v1", "productpage", "v1"), workload("reviews-v1", "reviews", "v1"), workload("reviews-v2", "reviews", "v2"), workload("details-v1", "details", "v1")],
    proxies: [
      { node: { id: "sidecar~127.1.1.1~productpage-v1.default~default.svc.cluster.local", name: "productpage-v1", namespace: NS, labels: { app: "productpage", version: "v1" } }, types: [{ state: "SYNCED" }, { state: "SYNCED" }, { state: "NOT_SENT" }] },
      { node: { id: "sidecar~127.1.1.2~reviews-v1.default~default.svc.cluster.local", name: "reviews-v1", namespace: NS, labels: { app: "reviews", version: "v1" } }, types: [{ state: "SYNCED" }, { state: "NACKED" }] },
    ],
  };
}

function edge(g: { edges: GraphEdge[] }, id: string): GraphEdge {
  const e = g.edges.find((x) => x.id === id);
  assert.ok(e, `no edge ${id}; edges: ${g.edges.map((x) => x.id).join(", ")}`);
  return e;
}

function node(g: { nodes: GraphNode[] }, id: string): GraphNode {
  const n = g.nodes.find((x) => x.id === id);
  assert.ok(n, `no node ${id}; nodes: ${g.nodes.map((x) => x.id).join(", ")}`);
  return n;
}

test("workload -> service from the client's sidecar, mTLS from the server's; service -> workload from the server's", () => {
  const g = buildGraph(scenario());
  const pp = "workload:default/productpage-v1";
  const e = edge(g, `${pp}->service:${REVIEWS}`);
  assert.equal(e.source, pp);
  assert.equal(e.target, `service:${REVIEWS}`);
  assert.equal(e.rps, 10);
  assert.equal(e.errorRate, 0.1);
  assert.deepEqual(e.responseCodes, { "200": 9, "503": 1 });
  assert.deepEqual(e.flags, { UF: 1 });
  assert.equal(e.mtls, true, "reviews' sidecars reported mutual_tls for productpage's requests");
  assert.equal(e.health, "degraded");
  assert.equal(e.protocol, "http");
  assert.equal(e.p99Ms, 49.75);

  const v1 = edge(g, `service:${REVIEWS}->workload:default/reviews-v1`);
  assert.equal(v1.rps, 5);
  assert.equal(v1.mtls, true);
  assert.equal(edge(g, `service:${REVIEWS}->workload:default/reviews-v2`).rps, 4);
  assert.equal(v1.p99Ms, null, "no histogram for this series in the window");

  // The service's numbers are the sum of what was sent to it (failures before any server included).
  const reviews = node(g, `service:${REVIEWS}`);
  assert.equal(reviews.rps, 10);
  assert.equal(reviews.errorRate, 0.1);
  assert.equal(reviews.name, "reviews");
  assert.equal(node(g, "workload:default/reviews-v1").rps, 5);
  assert.equal(node(g, "workload:default/reviews-v2").version, "v2");
});

test("traffic from outside the mesh comes from the unknown node, plaintext", () => {
  const g = buildGraph(scenario());
  const u = node(g, "unknown");
  assert.equal(u.kind, "unknown");
  assert.equal(u.rps, 2, "the outside world's numbers are what it sent");
  assert.equal(u.health, "healthy");
  const e = edge(g, `unknown->service:${PRODUCTPAGE}`);
  assert.equal(e.rps, 2);
  assert.equal(e.mtls, false);
  assert.equal(node(g, `service:${PRODUCTPAGE}`).rps, 2);
  assert.equal(edge(g, `service:${PRODUCTPAGE}->workload:default/productpage-v1`).rps, 2);
  assert.equal(node(g, "workload:default/productpage-v1").rps, 2, "a workload's rps is what it handled inbound");
});

test("a service without sidecars is measured by its clients; idle registry entries still appear", () => {
  const g = buildGraph(scenario());
  const api = node(g, "service:api.example.com");
  assert.equal(api.rps, 1);
  assert.equal(api.name, "api.example.com");
  assert.ok(!g.edges.some((e) => e.source === "service:api.example.com"), "no server-side edge without a server sidecar");
  const details = node(g, `service:${fqdn("details")}`);
  assert.deepEqual([details.rps, details.health, details.p99Ms], [0, "idle", null]);
  assert.equal(node(g, "workload:default/details-v1").health, "idle");
  assert.equal(g.nodes.filter((n) => n.kind === "service").length, 6, "5 registry services + mysql seen in the metrics");
});

test("gRPC and TCP edges, proxies and their sync state", () => {
  const g = buildGraph(scenario());
  assert.equal(edge(g, `workload:default/reviews-v2->service:${fqdn("ratings")}`).protocol, "grpc");
  const db = edge(g, `workload:default/reviews-v1->service:${fqdn("mysql")}`);
  assert.equal(db.protocol, "tcp");
  assert.deepEqual(db.tcp, { sentBytesPerSecond: 1000, receivedBytesPerSecond: 500, connectionsOpenedPerSecond: 0.5 });
  assert.equal(db.rps, 0);
  assert.equal(db.health, "healthy", "bytes flowing: not idle");
  assert.deepEqual(node(g, "workload:default/productpage-v1").proxy, { id: "sidecar~127.1.1.1~productpage-v1.default~default.svc.cluster.local", synced: true });
  assert.equal(node(g, "workload:default/reviews-v1").proxy?.synced, false, "a NACK is not synced");
  assert.equal(node(g, "workload:default/details-v1").proxy, undefined);
  assert.equal(proxySynced([]), false);
  assert.deepEqual([g.generatedAt, g.windowSeconds, g.scrape.proxies], [1_000, 10, 4]);
  const ids = g.edges.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort(), "sorted, so the page can diff frames");
});

test("health thresholds: Kiali's 0.1 % and 20 %", () => {
  assert.equal(healthOf(0, 0), "idle");
  assert.equal(healthOf(10, 0.001), "healthy");
  assert.equal(healthOf(10, 0.0011), "degraded");
  assert.equal(healthOf(10, 0.2), "failing");
  const input = scenario();
  input.samples.counters.push(req(10, labels("source", "details-v1", fqdn("nowhere"), "unknown", { response_code: "503", response_flags: "UH" })));
  const g = buildGraph(input);
  const e = edge(g, `workload:default/details-v1->service:${fqdn("nowhere")}`);
  assert.deepEqual([e.health, e.errorRate, e.mtls], ["failing", 1, false]);
});

test("idle series keep their edge (rate 0) so a shift between versions shows where traffic was", () => {
  const input = scenario();
  input.samples = { counters: [req(0, labels("destination", "productpage-v1", REVIEWS, "reviews-v1"))], histograms: [] };
  const g = buildGraph(input);
  const e = edge(g, `service:${REVIEWS}->workload:default/reviews-v1`);
  assert.deepEqual([e.rps, e.health, e.mtls], [0, "idle", true]);
});

test("mTLS means all of it: a hop that also carries plaintext has no lock", () => {
  const input = scenario();
  input.samples = {
    counters: [
      req(5, labels("destination", "productpage-v1", REVIEWS, "reviews-v1")),
      req(1, labels("destination", "unknown", REVIEWS, "reviews-v1", { connection_security_policy: "none" })),
    ],
    histograms: [],
  };
  const g = buildGraph(input);
  assert.equal(edge(g, `service:${REVIEWS}->workload:default/reviews-v1`).mtls, false);
  assert.equal(edge(g, `unknown->service:${REVIEWS}`).mtls, false);
  assert.ok(!g.edges.some((e) => e.source === "workload:default/productpage-v1"), "client -> service edges come only from the client's own report");
});
