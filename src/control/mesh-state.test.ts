// MeshState's health bookkeeping: a proxy that reports health starts unhealthy, reports move
// its endpoints in and out of use, and only real changes ask for a push. Then the sharing of
// translations between proxies with equal views, and when that sharing must end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MeshState } from "./mesh-state.ts";
import type { ConfigObject } from "../api/types.ts";
import { bookinfoObjects, cfg, kubeService, proxy } from "../registry/fixtures.ts";
import { DEFAULT_MESH_CONFIG, translate } from "../translate/index.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { encodeResource } from "../xds/protos.ts";

const HOST = "web.default.svc.cluster.local:8080";

function state(): MeshState {
  const s = new MeshState({ rootNamespace: "istio-system", domainSuffix: "cluster.local", accessLog: false });
  s.setObjects([kubeService("web", 8080)]);
  return s;
}

const healthOf = (s: MeshState) => s.registry().endpoints.get(HOST)!.map((e) => e.healthy);

test("a health-reporting proxy is unhealthy until its first healthy report, then follows its reports", () => {
  const s = state();
  const web = { ...proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] }), healthReporting: true };
  assert.equal(s.proxyConnected("c1", web), true);
  assert.deepEqual(healthOf(s), [false]);
  assert.match(s.registry().workloads.get(web.id)!.healthMessage ?? "", /no health report/);

  assert.equal(s.proxyHealth("c1", true), true, "unhealthy -> healthy is a change");
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("c1", true), false, "the same report again is not");

  assert.equal(s.proxyHealth("c1", false, "127.10.2.1:8080: connection refused"), true);
  assert.deepEqual(healthOf(s), [false]);
  assert.equal(s.registry().workloads.get(web.id)!.healthMessage, "127.10.2.1:8080: connection refused");

  // A reconnect starts over: unhealthy until the new stream's first report.
  assert.equal(s.proxyDisconnected("c1"), true);
  assert.deepEqual(s.registry().endpoints.get(HOST), []);
  s.proxyConnected("c2", web);
  assert.deepEqual(healthOf(s), [false]);
  s.proxyHealth("c2", true);
  assert.deepEqual(healthOf(s), [true]);
});

test("a proxy without health reporting is healthy at once and its reports change nothing", () => {
  const s = state();
  const web = proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] });
  s.proxyConnected("c1", web);
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("c1", false, "ignored"), false);
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("unknown-connection", false), false);
});

test("when a reconnect overlaps the old stream, the newest connection's health counts", () => {
  const s = state();
  const web = { ...proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] }), healthReporting: true };
  s.proxyConnected("old", web);
  s.proxyHealth("old", true);
  s.proxyConnected("new", web);
  assert.deepEqual(healthOf(s), [false], "the new stream has not reported yet");
  s.proxyHealth("new", true);
  s.proxyDisconnected("old");
  assert.deepEqual(healthOf(s), [true]);
});

// Shared translations: proxies whose view of a resource type is equal get the same objects,
// so the ADS server's identity-keyed encode cache checks and encodes them once.
const reviewsDR = cfg("DestinationRule", "reviews", { host: "reviews", subsets: ["v1", "v2"].map((v) => ({ name: v, labels: { version: v } })) });
const reviewsVS = (subset: string) => cfg("VirtualService", "reviews", { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset } }] }] });
const ports = [{ name: "http", containerPort: 9080 }];
const sidecar = (name: string, ip: string, labels: Record<string, string>, namespace = "default") =>
  proxy(name, ip, labels, { ports, namespace, autoRegister: false });

function bookinfoState(extra: ConfigObject[] = [reviewsVS("v1")]): MeshState {
  const s = new MeshState(DEFAULT_MESH_CONFIG);
  s.setObjects([...bookinfoObjects(), reviewsDR, ...extra]);
  return s;
}

const byName = <T extends { name: string }>(list: T[], name: string): T => {
  const found = list.find((x) => x.name === name);
  assert.ok(found, `no "${name}" in [${list.map((x) => x.name).join(", ")}]`);
  return found;
};
const REVIEWS_V1 = "outbound|9080|v1|reviews.default.svc.cluster.local";

test("proxies in one namespace share route, outbound cluster and endpoint objects; listeners stay their own", () => {
  const s = bookinfoState();
  const a = sidecar("productpage-v1", "127.10.1.1", { app: "productpage" });
  const b = sidecar("details-v1", "127.10.1.2", { app: "details" });
  const other = sidecar("tool", "127.10.1.9", { app: "tool" }, "other");
  for (const [i, p] of [a, b, other].entries()) s.proxyConnected(`c${i}`, p);
  const [ra, rb, ro] = [s.resources(a), s.resources(b), s.resources(other)];

  assert.equal(ra.routes[0], rb.routes[0], "the same RouteConfiguration object");
  assert.equal(byName(ra.clusters, REVIEWS_V1), byName(rb.clusters, REVIEWS_V1));
  assert.equal(ra.endpoints[0], rb.endpoints[0]);
  ra.endpoints.forEach((e, i) => assert.equal(e, rb.endpoints[i]));
  assert.notEqual(ra.listeners[0], rb.listeners[0], "a sidecar's listeners carry its own pod IP");
  assert.notEqual(byName(ra.clusters, "inbound|9080||"), byName(rb.clusters, "inbound|9080||"), "inbound clusters point at each app");

  // Another namespace: short host names and visibility differ, so it gets its own translation.
  assert.notEqual(ro.routes[0], ra.routes[0]);
  assert.notDeepEqual(ro.routes[0], ra.routes[0]);
  assert.notEqual(byName(ro.clusters, REVIEWS_V1), byName(ra.clusters, REVIEWS_V1));
  assert.equal(s.translationStats().hits > 0, true);

  // Sharing changes nothing in content: exactly what translate() gives each proxy.
  for (const p of [a, b, other]) {
    assert.deepEqual(s.resources(p), translate({ objects: [...s.objects()], registry: s.registry(), proxy: p, mesh: s.mesh }));
  }
});

test("shared resources are frozen, encode as they are, and come back identical on the next call", () => {
  const s = bookinfoState();
  const a = sidecar("productpage-v1", "127.10.1.1", { app: "productpage" });
  s.proxyConnected("c1", a);
  const first = s.resources(a);
  const again = s.resources(a);
  assert.equal(again.listeners[0], first.listeners[0]);
  assert.equal(again.routes[0], first.routes[0]);
  const rc = first.routes[0];
  assert.ok(Object.isFrozen(rc) && Object.isFrozen(rc.virtual_hosts[0]!.routes[0]!.route));
  assert.throws(() => {
    (rc as { name: string }).name = "changed";
  }, TypeError);
  const all: [string, object[]][] = [[TYPE.listener, first.listeners], [TYPE.route, first.routes], [TYPE.cluster, first.clusters], [TYPE.endpoint, first.endpoints]];
  for (const [typeUrl, list] of all) for (const r of list) assert.ok(encodeResource(typeUrl, r).value.length > 0);
  // The lists handed out are copies: sorting or pushing into them cannot reach the shared ones.
  first.clusters.reverse();
  first.routes.pop();
  assert.deepEqual(s.resources(a).routes.map((r) => r.name), ["http_proxy"]);
});

test("a new state version gives new objects; a proxy that changes no input keeps them", () => {
  const s = bookinfoState();
  const a = sidecar("productpage-v1", "127.10.1.1", { app: "productpage" });
  s.proxyConnected("c1", a);
  const before = s.resources(a);

  // A plain sidecar connecting changes neither config nor registry: translations stay shared.
  s.proxyConnected("c2", sidecar("details-v1", "127.10.1.2", { app: "details" }));
  assert.equal(s.resources(a).routes[0], before.routes[0]);

  s.setObjects([...bookinfoObjects(), reviewsDR, reviewsVS("v2")]);
  const changed = s.resources(a);
  assert.notEqual(changed.routes[0], before.routes[0]);
  assert.match(JSON.stringify(changed.routes[0]), /outbound\|9080\|v2\|reviews/);
  assert.notEqual(byName(changed.clusters, REVIEWS_V1), byName(before.clusters, REVIEWS_V1));

  // An auto-registering workload changes the registry (new endpoints): new objects again.
  const reviews = { ...proxy("reviews-v1", "127.10.1.4", { app: "reviews", version: "v1" }, { ports }), healthReporting: true };
  assert.equal(s.proxyConnected("c3", reviews), true);
  const registered = s.resources(a);
  assert.notEqual(registered.endpoints[0], changed.endpoints[0]);
  const healthOfReviews = (r: typeof registered) => JSON.stringify(r.endpoints.find((e) => e.cluster_name === REVIEWS_V1));
  assert.match(healthOfReviews(registered), /"UNHEALTHY"/);

  // Its health report changes the registry too.
  assert.equal(s.proxyHealth("c3", true), true);
  const healthy = s.resources(a);
  assert.notEqual(healthy.endpoints[0], registered.endpoints[0]);
  assert.match(healthOfReviews(healthy), /"HEALTHY"/);

  assert.equal(s.proxyDisconnected("c3"), true);
  assert.notEqual(s.resources(a).endpoints[0], healthy.endpoints[0]);
});

test("sourceLabels split route sharing by the labels they name, and only by those", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { match: [{ sourceLabels: { app: "productpage" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
      { route: [{ destination: { host: "reviews", subset: "v1" } }] },
    ],
  });
  const s = bookinfoState([vs]);
  const page1 = sidecar("productpage-v1", "127.10.1.1", { app: "productpage", version: "v1", pod: "a" });
  const page2 = sidecar("productpage-v2", "127.10.1.2", { app: "productpage", version: "v2", pod: "b" });
  const details = sidecar("details-v1", "127.10.1.3", { app: "details", version: "v1", pod: "c" });
  const [r1, r2, rd] = [page1, page2, details].map((p) => s.resources(p).routes[0]!);
  assert.equal(r1, r2, "labels no sourceLabels names do not split sharing");
  assert.notEqual(r1, rd);
  assert.match(JSON.stringify(r1), /\|v2\|reviews/);
  assert.doesNotMatch(JSON.stringify(rd), /\|v2\|reviews/);
  for (const p of [page1, page2, details]) {
    assert.deepEqual(s.resources(p), translate({ objects: [...s.objects()], registry: s.registry(), proxy: p, mesh: s.mesh }));
  }
});
