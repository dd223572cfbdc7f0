import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoObjects, bookinfoProxies, cfg, proxy } from "../registry/fixtures.ts";
import { translateClusters, UNLIMITED } from "./clusters.ts";
import { inputFor } from "./test-support.ts";

const reviewsDR = cfg("DestinationRule", "reviews", {
  host: "reviews",
  trafficPolicy: {
    loadBalancer: { simple: "LEAST_REQUEST" },
    connectionPool: { tcp: { maxConnections: 100, connectTimeout: "250ms" }, http: { http1MaxPendingRequests: 5, maxRetries: 3 } },
    outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 },
  },
  subsets: [
    { name: "v1", labels: { version: "v1" } },
    { name: "v2", labels: { version: "v2" }, trafficPolicy: { loadBalancer: { simple: "RANDOM" } } },
    { name: "v3", labels: { version: "v3" } },
  ],
});

function clustersFor(objects = bookinfoObjects()) {
  const proxies = bookinfoProxies();
  return translateClusters(inputFor(objects, proxies, proxies[0]));
}

test("one EDS cluster per service port, one per subset, inbound cluster per workload port", () => {
  const names = clustersFor([...bookinfoObjects(), reviewsDR]).map((c) => c.name);
  assert.deepEqual(names, [
    "BlackHoleCluster", // outboundTrafficPolicy ALLOW_ANY (Istio's default): see passthrough-clusters.test.ts
    "PassthroughCluster",
    "inbound|9080||",
    "outbound|9080|v1|reviews.default.svc.cluster.local",
    "outbound|9080|v2|reviews.default.svc.cluster.local",
    "outbound|9080|v3|reviews.default.svc.cluster.local",
    "outbound|9080||details.default.svc.cluster.local",
    "outbound|9080||productpage.default.svc.cluster.local",
    "outbound|9080||ratings.default.svc.cluster.local",
    "outbound|9080||reviews.default.svc.cluster.local",
  ]); // sorted by code point: "v" sorts before "|"
});

test("Istio defaults without a DestinationRule", () => {
  const c = clustersFor().find((x) => x.name === "outbound|9080||ratings.default.svc.cluster.local")!;
  assert.equal(c.type, "EDS");
  assert.deepEqual(c.eds_cluster_config, { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: c.name });
  assert.deepEqual(c.connect_timeout, { seconds: 10 });
  assert.equal(c.lb_policy, "ROUND_ROBIN");
  assert.deepEqual(c.circuit_breakers?.thresholds[0].max_requests, { value: UNLIMITED });
  assert.equal(c.outlier_detection, undefined);
  const istio = c.metadata?.filter_metadata?.istio.fields!;
  assert.equal(istio.config, undefined);
  assert.equal(istio.services.list_value?.values?.[0].struct_value?.fields?.host.string_value, "ratings.default.svc.cluster.local");
});

test("DestinationRule policy: timeouts, breakers, outlier detection, subset override, metadata", () => {
  const cs = clustersFor([...bookinfoObjects(), reviewsDR]);
  const base = cs.find((x) => x.name === "outbound|9080||reviews.default.svc.cluster.local")!;
  assert.equal(base.lb_policy, "LEAST_REQUEST");
  assert.deepEqual(base.connect_timeout, { seconds: 0, nanos: 250_000_000 });
  assert.deepEqual(base.circuit_breakers?.thresholds[0], {
    max_connections: { value: 100 }, max_pending_requests: { value: 5 }, max_requests: { value: UNLIMITED }, max_retries: { value: 3 },
  });
  assert.deepEqual(base.outlier_detection, {
    consecutive_5xx: { value: 5 }, enforcing_consecutive_5xx: { value: 100 }, interval: { seconds: 10 }, base_ejection_time: { seconds: 30 }, max_ejection_percent: { value: 50 },
  });
  assert.deepEqual(base.common_lb_config, { healthy_panic_threshold: { value: 0 } }, "Istio turns panic mode off");
  assert.equal(base.metadata?.filter_metadata?.istio.fields?.config.string_value, "/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews");
  const v2 = cs.find((x) => x.name === "outbound|9080|v2|reviews.default.svc.cluster.local")!;
  assert.equal(v2.lb_policy, "RANDOM");
  assert.deepEqual(v2.circuit_breakers, base.circuit_breakers); // inherited from the top level
  const v1 = cs.find((x) => x.name === "outbound|9080|v1|reviews.default.svc.cluster.local")!;
  assert.equal(v1.lb_policy, "LEAST_REQUEST");
});

test("DNS ServiceEntry -> STRICT_DNS with the host as endpoint; NONE -> ORIGINAL_DST", () => {
  const objs = [
    cfg("ServiceEntry", "ext", { hosts: ["api.example.com"], ports: [{ number: 443, name: "tls", protocol: "TLS" }], resolution: "DNS" }),
    cfg("ServiceEntry", "any", { hosts: ["*.example.org"], ports: [{ number: 80, name: "http", protocol: "HTTP" }], resolution: "NONE" }),
  ];
  const p = proxy("a", "127.10.1.1", { app: "a" });
  const cs = translateClusters(inputFor(objs, [p], p));
  const dns = cs.find((c) => c.name === "outbound|443||api.example.com")!;
  assert.equal(dns.type, "STRICT_DNS");
  assert.deepEqual(dns.load_assignment?.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: "api.example.com", port_value: 443 });
  const none = cs.find((c) => c.name === "outbound|80||*.example.org")!;
  assert.equal(none.type, "ORIGINAL_DST");
  assert.equal(none.lb_policy, "CLUSTER_PROVIDED");
});

test("inbound cluster points at the application address", () => {
  const proxies = bookinfoProxies();
  const c = translateClusters(inputFor(bookinfoObjects(), proxies, proxies[3])).find((x) => x.name === "inbound|9080||")!;
  assert.equal(c.type, "STATIC");
  assert.deepEqual(c.load_assignment?.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: "127.10.2.4", port_value: 9080 });
});

test("services exported only to their namespace are hidden from others", () => {
  const objs = [cfg("Service", "secret", { selector: { app: "s" }, ports: [{ name: "http", port: 80 }] }, { namespace: "vault", annotations: { "networking.istio.io/exportTo": "." } })];
  const outside = proxy("a", "127.10.1.1", { app: "a" });
  const inside = proxy("b", "127.10.1.2", { app: "b" }, { namespace: "vault" });
  const services = (p: typeof inside) => translateClusters(inputFor(objs, [], p)).filter((c) => c.name.startsWith("outbound|"));
  assert.equal(services(outside).length, 0);
  assert.deepEqual(services(inside).map((c) => c.name), ["outbound|80||secret.vault.svc.cluster.local"]);
});

test("proxyless gRPC: only ROUND_ROBIN, with a warning", () => {
  const grpc = proxy("client", "127.10.1.9", { app: "client" }, { type: "grpc" });
  const warnings: import("../api/types.ts").ConfigError[] = [];
  const cs = translateClusters(inputFor([...bookinfoObjects(), reviewsDR], [], grpc), warnings);
  assert.ok(cs.every((c) => c.lb_policy === "ROUND_ROBIN"));
  assert.ok(cs.every((c) => !c.name.startsWith("inbound")));
  // One warning per distinct replaced policy (LEAST_REQUEST at top level, RANDOM in v2).
  assert.deepEqual(warnings.map((w) => w.message.split(";")[1].trim().split(" ")[0]), ["LEAST_REQUEST", "RANDOM"]);
  assert.equal(warnings[0].field, "spec.trafficPolicy.loadBalancer");
  assert.equal(warnings[0].severity, "warning");
});
