// Sidecar egress scoping: which Sidecar applies, how egress hosts parse and import services,
// and that routes, clusters and endpoints agree on the narrowed set.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { buildRegistry } from "../registry/build.ts";
import { cfg, kubeService, proxy } from "../registry/fixtures.ts";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "./mesh-config.ts";
import { importsService, narrowLabels, parseEgressHost, scopedServices, selectSidecar, sidecarLabelKeys, sidecarScope } from "./sidecar-scope.ts";
import { translateClusters } from "./clusters.ts";
import { translateEndpoints } from "./endpoints.ts";
import { routeView, routeViewKey, translateRoutes } from "./routes.ts";
import { sourceLabelKeys } from "./route-builder.ts";
import { inputFor } from "./test-support.ts";

function sidecar(name: string, namespace: string, spec: Record<string, unknown>, createdAt?: string): ConfigObject {
  const o = cfg("Sidecar", name, spec, { namespace });
  return createdAt ? { ...o, metadata: { ...o.metadata, creationTimestamp: createdAt } } : o;
}

/** Services in three namespaces plus an external ServiceEntry (in "egress"). */
function world(): ConfigObject[] {
  return [
    kubeService("web", 80, { namespace: "shop" }),
    kubeService("cart", 8080, { namespace: "shop" }),
    kubeService("ledger", 80, { namespace: "bank" }),
    kubeService("audit", 80, { namespace: "bank" }),
    cfg("Service", "multi", { selector: { app: "multi" }, ports: [{ name: "http", port: 80 }, { name: "http-admin", port: 9000 }] }, { namespace: "tools" }),
    cfg("ServiceEntry", "payments", { hosts: ["api.payments.example"], ports: [{ number: 443, name: "tls", protocol: "TLS" }, { number: 80, name: "http", protocol: "HTTP" }], resolution: "DNS", location: "MESH_EXTERNAL" }, { namespace: "egress" }),
  ];
}

const shopPod = proxy("web", "127.10.1.1", { app: "web", tier: "front" }, { namespace: "shop" });

function hostsSeen(objects: ConfigObject[], p = shopPod): string[] {
  const input = inputFor(objects, [], p);
  return scopedServices(input).map((s) => `${s.hostname}:${s.ports.map((x) => x.number).join(",")}`);
}

test("egress hosts: '.' is the proxy's namespace, '*' any, '~' none; no slash is not a host", () => {
  assert.deepEqual(parseEgressHost("./*", "shop"), { namespace: "shop", host: "*" });
  assert.deepEqual(parseEgressHost("*/api.payments.example", "shop"), { namespace: "*", host: "api.payments.example" });
  assert.deepEqual(parseEgressHost("~/*", "shop"), { namespace: "~", host: "*" });
  assert.deepEqual(parseEgressHost("bank/*.bank.svc.cluster.local", "shop"), { namespace: "bank", host: "*.bank.svc.cluster.local" });
  assert.equal(parseEgressHost("web.shop.svc.cluster.local", "shop"), undefined);
  assert.equal(parseEgressHost("shop/", "shop"), undefined);

  const l = { port: undefined, hosts: [parseEgressHost("bank/*.bank.svc.cluster.local", "shop")!, parseEgressHost("*/api.payments.example", "shop")!] };
  assert.equal(importsService(l, "bank", "ledger.bank.svc.cluster.local"), true);
  assert.equal(importsService(l, "tools", "ledger.bank.svc.cluster.local"), false, "a namespace-bound import needs the service to be declared there");
  assert.equal(importsService(l, "egress", "api.payments.example"), true, "*/host imports the host from any namespace");
  assert.equal(importsService(l, "egress", "www.payments.example"), false);
});

test("no Sidecar anywhere: every visible service, mesh-wide ALLOW_ANY", () => {
  const scope = sidecarScope(world(), DEFAULT_MESH_CONFIG, shopPod);
  assert.equal(scope.sidecar, undefined);
  assert.equal(scope.outboundTrafficPolicy, "ALLOW_ANY");
  assert.equal(hostsSeen(world()).length, 6);
  const strict: MeshConfig = { ...DEFAULT_MESH_CONFIG, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } };
  assert.equal(sidecarScope(world(), strict, shopPod).outboundTrafficPolicy, "REGISTRY_ONLY");
});

test("a namespace Sidecar limits the proxy to its own namespace and what else it names", () => {
  const sc = sidecar("default", "shop", { egress: [{ hosts: ["./*", "*/api.payments.example"] }] });
  assert.deepEqual(hostsSeen([...world(), sc]), ["api.payments.example:80,443", "cart.shop.svc.cluster.local:8080", "web.shop.svc.cluster.local:80"]);
  // Another namespace is not affected by it.
  const bankPod = proxy("ledger", "127.10.1.2", { app: "ledger" }, { namespace: "bank" });
  assert.equal(hostsSeen([...world(), sc], bankPod).length, 6);
});

test("'~/*' imports nothing; a port on the listener imports only that service port", () => {
  assert.deepEqual(hostsSeen([...world(), sidecar("default", "shop", { egress: [{ hosts: ["~/*"] }] })]), []);
  const portOnly = sidecar("default", "shop", { egress: [{ port: { number: 9000, protocol: "HTTP", name: "admin" }, hosts: ["tools/*"] }, { hosts: ["./web.shop.svc.cluster.local"] }] });
  assert.deepEqual(hostsSeen([...world(), portOnly]), ["multi.tools.svc.cluster.local:9000", "web.shop.svc.cluster.local:80"]);
  const httpProxy = sidecar("default", "shop", { egress: [{ port: { number: 15001, protocol: "HTTP_PROXY", name: "p" }, hosts: ["tools/*"] }] });
  assert.deepEqual(hostsSeen([...world(), httpProxy]), ["multi.tools.svc.cluster.local:80,9000"], "an HTTP_PROXY listener is not bound to a service port");
});

test("selection: workload selector in the namespace, then the namespace default, then the root namespace's", () => {
  const rootDefault = sidecar("default", "istio-system", { egress: [{ hosts: ["./*", "istio-system/*"] }], outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });
  const rootSelector = sidecar("only-root-workloads", "istio-system", { workloadSelector: { labels: { app: "web" } }, egress: [{ hosts: ["~/*"] }] });
  const nsDefault = sidecar("ns", "shop", { egress: [{ hosts: ["./*"] }] });
  const front = sidecar("front", "shop", { workloadSelector: { labels: { tier: "front" } }, egress: [{ hosts: ["bank/*"] }] }, "2024-01-02T00:00:00Z");
  const older = sidecar("z-older", "shop", { workloadSelector: { labels: { app: "web" } }, egress: [{ hosts: ["tools/*"] }] }, "2024-01-01T00:00:00Z");
  const root = DEFAULT_MESH_CONFIG.rootNamespace;

  assert.equal(selectSidecar([rootDefault, rootSelector], root, shopPod)?.metadata.name, "default", "root default, never a root selector Sidecar for another namespace");
  assert.equal(sidecarScope([rootDefault], DEFAULT_MESH_CONFIG, shopPod).outboundTrafficPolicy, "REGISTRY_ONLY");
  // The root default's "./*" is the proxy's own namespace, not istio-system.
  assert.deepEqual(hostsSeen([...world(), rootDefault]), ["cart.shop.svc.cluster.local:8080", "web.shop.svc.cluster.local:80"]);
  assert.equal(selectSidecar([rootDefault, nsDefault], root, shopPod)?.metadata.name, "ns");
  assert.equal(selectSidecar([rootDefault, nsDefault, front, older], root, shopPod)?.metadata.name, "z-older", "the oldest matching selector wins");
  assert.equal(selectSidecar([rootDefault, nsDefault, front], root, { namespace: "shop" })?.metadata.name, "ns", "without labels in the view no selector matches");
  const other = proxy("cart", "127.10.1.3", { app: "cart" }, { namespace: "shop" });
  assert.equal(selectSidecar([rootDefault, nsDefault, front, older], root, other)?.metadata.name, "ns");
  // A Sidecar's own policy beats the mesh's, either way.
  const allow = sidecar("ns", "shop", { outboundTrafficPolicy: { mode: "ALLOW_ANY" } });
  assert.equal(sidecarScope([allow], { ...DEFAULT_MESH_CONFIG, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } }, shopPod).outboundTrafficPolicy, "ALLOW_ANY");
  assert.equal(hostsSeen([...world(), allow]).length, 6, "a Sidecar without egress imports */*");
});

test("a VirtualService the Sidecar imports brings the services it routes to", () => {
  const sc = sidecar("default", "shop", { egress: [{ hosts: ["./*"] }] });
  const vs = cfg("VirtualService", "web-split", { hosts: ["web"], http: [{ route: [{ destination: { host: "web" }, weight: 90 }, { destination: { host: "audit.bank.svc.cluster.local", port: { number: 80 } }, weight: 10 }] }] }, { namespace: "shop" });
  const foreignVs = cfg("VirtualService", "tools-route", { hosts: ["multi.tools.svc.cluster.local"], http: [{ route: [{ destination: { host: "ledger.bank.svc.cluster.local" } }] }] }, { namespace: "tools" });
  const seen = hostsSeen([...world(), sc, vs, foreignVs]);
  assert.ok(seen.includes("audit.bank.svc.cluster.local:80"), "destination of an imported VirtualService");
  assert.ok(!seen.some((h) => h.startsWith("ledger.")), "a VirtualService of a namespace the Sidecar does not import brings nothing");
  // Every route the proxy gets points at a cluster it has.
  const input = inputFor([...world(), sc, vs, foreignVs], [], shopPod);
  const clusters = new Set(translateClusters(input).map((c) => c.name));
  for (const vh of translateRoutes(input)[0].virtual_hosts) {
    for (const r of vh.routes) for (const c of r.route?.weighted_clusters?.clusters.map((w) => w.name) ?? (r.route?.cluster ? [r.route.cluster] : [])) assert.ok(clusters.has(c), `route to ${c} has a cluster`);
  }
});

test("the narrowed scope shrinks routes, clusters and endpoints together", () => {
  const pods = [shopPod, proxy("ledger", "127.10.1.2", { app: "ledger" }, { namespace: "bank" }), proxy("cart", "127.10.1.4", { app: "cart" }, { namespace: "shop" })];
  const sc = sidecar("default", "shop", { egress: [{ hosts: ["./*"] }] });
  const full = { objects: world(), registry: buildRegistry(world(), pods), proxy: shopPod, mesh: DEFAULT_MESH_CONFIG };
  const narrow = { ...full, objects: [...world(), sc], registry: buildRegistry([...world(), sc], pods) };
  const count = (i: typeof full) => ({
    vhosts: translateRoutes(i)[0].virtual_hosts.length,
    outbound: translateClusters(i).filter((c) => c.name.startsWith("outbound|")).length,
    eds: translateEndpoints(i).length,
  });
  const before = count(full), after = count(narrow);
  assert.deepEqual(after, { vhosts: 3, outbound: 2, eds: 2 }, "web, cart and the catch-all; web and cart clusters");
  assert.ok(before.outbound > after.outbound && before.eds > after.eds && before.vhosts > after.vhosts);
  assert.ok(translateEndpoints(narrow).every((e) => e.cluster_name.endsWith(".shop.svc.cluster.local")));
});

test("label keys: only those Sidecar selectors name, so other labels do not split the cache", () => {
  const keys = sidecarLabelKeys([sidecar("a", "shop", { workloadSelector: { labels: { tier: "front" } } }), sidecar("b", "shop", {}), cfg("PeerAuthentication", "x", { selector: { matchLabels: { pa: "1" } } })]);
  assert.deepEqual([...keys], ["tier"]);
  assert.deepEqual(narrowLabels({ app: "web", tier: "front", pod: "x" }, keys), { tier: "front" });
  assert.deepEqual(narrowLabels({ app: "web" }, keys), {});
});

test("route views keep the Sidecar selector's labels: a selected workload gets its own narrower routes", () => {
  const front = sidecar("front", "shop", { workloadSelector: { labels: { tier: "front" } }, egress: [{ hosts: ["./*"] }] });
  const objects = [...world(), front];
  const keys = new Set([...sourceLabelKeys(objects), ...sidecarLabelKeys(objects)]);
  const back = proxy("web-2", "127.10.1.5", { app: "web", tier: "back" }, { namespace: "shop" });
  const viewFront = routeView(shopPod, keys), viewBack = routeView(back, keys);
  assert.notEqual(routeViewKey(viewFront), routeViewKey(viewBack), "different Sidecars, different cache keys");
  const shared = { objects, registry: buildRegistry(objects, []), mesh: DEFAULT_MESH_CONFIG };
  const vhosts = (v: typeof viewFront) => translateRoutes({ ...shared, proxy: v })[0].virtual_hosts.map((h) => h.name);
  assert.deepEqual(vhosts(viewFront), ["allow_any", "cart.shop.svc.cluster.local:8080", "web.shop.svc.cluster.local:80"]);
  assert.ok(vhosts(viewBack).includes("ledger.bank.svc.cluster.local:80"), "the other workload keeps the mesh default");
  // A label no selector names does not split the key.
  assert.equal(routeViewKey(routeView({ ...shopPod, labels: { ...shopPod.labels, pod: "x" } }, keys)), routeViewKey(viewFront));
});
