// The outbound traffic policy: the catch-all virtual host of http_proxy and the two special
// clusters, checked by sending made-up requests through the proxy's own route selection
// (the simulation harness), after the resources crossed the wire into the proxy's state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, kubeService, proxy } from "../registry/fixtures.ts";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "./mesh-config.ts";
import { translateClusters } from "./clusters.ts";
import { BLOCKED_BODY, catchAllVirtualHost, clustersForPolicy } from "./passthrough-clusters.ts";
import { inputFor } from "./test-support.ts";
import { simulate } from "../../test/simulation/simulate.ts";

const client = proxy("client", "127.10.1.1", { app: "client" });
const objects = [kubeService("web", 80), cfg("ServiceEntry", "api", { hosts: ["api.example.com"], ports: [{ number: 80, name: "http", protocol: "HTTP" }], resolution: "DNS", location: "MESH_EXTERNAL" }, { namespace: "egress" })];
const registryOnly: MeshConfig = { ...DEFAULT_MESH_CONFIG, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } };

function sim(mesh: MeshConfig = DEFAULT_MESH_CONFIG, extra: ReturnType<typeof cfg>[] = []) {
  return simulate({ config: [...objects, ...extra], proxies: [client], proxy: client, mesh });
}

test("ALLOW_ANY (the default): an unknown host goes to PassthroughCluster, known hosts keep their routes", () => {
  const s = sim();
  const unknown = s.request({ url: "http://127.0.0.1:9999/x" });
  assert.equal(unknown.virtualHost, "allow_any");
  assert.equal(unknown.routeName, "allow_any");
  assert.equal(unknown.cluster, "PassthroughCluster");
  assert.equal(unknown.status, undefined, "forwarded, not answered by the proxy");
  assert.equal(s.snapshot.clusters.get("PassthroughCluster")?.type, "ORIGINAL_DST");
  assert.equal(s.request({ url: "http://web/" }).cluster, "outbound|80||web.default.svc.cluster.local");
  assert.equal(s.request({ url: "http://api.example.com/" }).cluster, "outbound|80||api.example.com");
  // A known name on a port the service does not have is not that service: the catch-all takes it.
  assert.equal(s.request({ url: "http://web:8080/" }).cluster, "PassthroughCluster");
  const route = s.resources.routes[0].virtual_hosts.find((v) => v.name === "allow_any")!.routes[0];
  assert.deepEqual(route.route?.timeout, { seconds: 0 }, "no route timeout, as Istio");
});

test("REGISTRY_ONLY: an unknown host is answered 502 by block_all, with a body saying why", () => {
  const s = sim(registryOnly);
  const r = s.request({ url: "http://example.org/" });
  assert.equal(r.virtualHost, "block_all");
  assert.equal(r.routeName, "block_all");
  assert.equal(r.status, 502);
  assert.equal(r.details, "direct_response");
  const compiled = s.snapshot.routeTables.get("http_proxy")!.findVirtualHost("example.org")!.routes[0].action;
  assert.equal(compiled.kind, "direct");
  assert.equal(compiled.kind === "direct" && compiled.body.toString(), BLOCKED_BODY);
  assert.match(BLOCKED_BODY, /REGISTRY_ONLY/);
  assert.equal(s.request({ url: "http://web/" }).status, undefined, "registered services still flow");
  assert.ok(s.snapshot.clusters.has("BlackHoleCluster"));
  assert.ok(!s.snapshot.clusters.has("PassthroughCluster"), "nothing may pass through, not even TLS in a CONNECT tunnel");
});

test("a Sidecar's outboundTrafficPolicy overrides the mesh's for the workloads it applies to", () => {
  const allow = cfg("Sidecar", "default", { outboundTrafficPolicy: { mode: "ALLOW_ANY" } });
  assert.equal(sim(registryOnly, [allow]).request({ url: "http://example.org/" }).cluster, "PassthroughCluster");
  const block = cfg("Sidecar", "default", { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });
  assert.equal(sim(DEFAULT_MESH_CONFIG, [block]).request({ url: "http://example.org/" }).status, 502);
  const elsewhere = cfg("Sidecar", "default", { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } }, { namespace: "other" });
  assert.equal(sim(DEFAULT_MESH_CONFIG, [elsewhere]).request({ url: "http://example.org/" }).cluster, "PassthroughCluster");
});

test("a host outside the Sidecar's egress is treated as unknown: passthrough or blocked by the policy", () => {
  const onlyOwn = (mode: string) => cfg("Sidecar", "default", { egress: [{ hosts: ["./*"] }], outboundTrafficPolicy: { mode } });
  assert.equal(sim(DEFAULT_MESH_CONFIG, [onlyOwn("ALLOW_ANY")]).request({ url: "http://api.example.com/" }).cluster, "PassthroughCluster");
  const blocked = sim(DEFAULT_MESH_CONFIG, [onlyOwn("REGISTRY_ONLY")]);
  assert.equal(blocked.request({ url: "http://api.example.com/" }).status, 502);
  assert.equal(blocked.request({ url: "http://web/" }).cluster, "outbound|80||web.default.svc.cluster.local");
});

test("the clusters: BlackHoleCluster is STATIC with no endpoints; PassthroughCluster is ORIGINAL_DST; gRPC clients get neither", () => {
  const [blackHole, passthrough] = clustersForPolicy("ALLOW_ANY");
  assert.deepEqual({ name: blackHole.name, type: blackHole.type, endpoints: blackHole.load_assignment }, { name: "BlackHoleCluster", type: "STATIC", endpoints: undefined });
  assert.deepEqual({ name: passthrough.name, type: passthrough.type, lb: passthrough.lb_policy }, { name: "PassthroughCluster", type: "ORIGINAL_DST", lb: "CLUSTER_PROVIDED" });
  assert.deepEqual(clustersForPolicy("REGISTRY_ONLY").map((c) => c.name), ["BlackHoleCluster"]);
  const grpc = proxy("g", "127.10.1.9", { app: "g" }, { type: "grpc" });
  assert.deepEqual(translateClusters(inputFor(objects, [grpc], grpc)).filter((c) => !c.name.includes("|")), []);
  assert.deepEqual(catchAllVirtualHost("REGISTRY_ONLY").domains, ["*"]);
  assert.equal(sim().resources.routes.length, 1, "still one route configuration");
});

test("DNS clusters carry respect_dns_ttl, and the mesh's dnsRefreshRate when it sets one", () => {
  const dnsCluster = (mesh: MeshConfig) => translateClusters({ ...inputFor(objects, [client], client), mesh }).find((c) => c.name === "outbound|80||api.example.com")!;
  assert.equal(dnsCluster(DEFAULT_MESH_CONFIG).type, "STRICT_DNS");
  assert.equal(dnsCluster(DEFAULT_MESH_CONFIG).respect_dns_ttl, true);
  assert.equal(dnsCluster(DEFAULT_MESH_CONFIG).dns_refresh_rate, undefined);
  assert.deepEqual(dnsCluster({ ...DEFAULT_MESH_CONFIG, dnsRefreshRate: { seconds: 30 } }).dns_refresh_rate, { seconds: 30 });
});
