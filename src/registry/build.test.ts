import { test } from "node:test";
import assert from "node:assert/strict";
import { buildRegistry } from "./build.ts";
import { bookinfoObjects, bookinfoProxies, cfg, kubeService, proxy, workloadEntry } from "./fixtures.ts";

test("Bookinfo: four services, reviews selects three versions", () => {
  const reg = buildRegistry(bookinfoObjects(), bookinfoProxies());
  assert.deepEqual([...reg.services.keys()], [
    "details.default.svc.cluster.local",
    "productpage.default.svc.cluster.local",
    "ratings.default.svc.cluster.local",
    "reviews.default.svc.cluster.local",
  ]);
  const reviews = reg.services.get("reviews.default.svc.cluster.local")!;
  assert.deepEqual(reviews.aliases, ["reviews", "reviews.default", "reviews.default.svc"]);
  assert.deepEqual(reviews.ports, [{ name: "http", number: 9080, protocol: "HTTP", targetPort: 9080 }]);
  assert.equal(reviews.origin, "Service/default/reviews");
  const eps = reg.endpoints.get("reviews.default.svc.cluster.local:9080")!;
  assert.deepEqual(eps.map((e) => `${e.address}:${e.port}:${e.labels.version}`), [
    "127.10.1.4:9080:v1", "127.10.1.5:9080:v2", "127.10.1.6:9080:v3",
  ]);
  assert.equal(eps[0].healthy, true);
  assert.equal(eps[0].weight, 1);
  assert.equal(reg.workloads.size, 6);
});

test("services select only workloads in their own namespace", () => {
  const objs = [kubeService("reviews", 9080)];
  const reg = buildRegistry(objs, [proxy("reviews-x", "127.10.1.9", { app: "reviews" }, { namespace: "other" })]);
  assert.deepEqual(reg.endpoints.get("reviews.default.svc.cluster.local:9080"), []);
});

test("ServiceEntry with workloadSelector picks WorkloadEntries; ports map overrides", () => {
  const objs = [
    cfg("ServiceEntry", "legacy", {
      hosts: ["legacy.example.internal"],
      ports: [{ number: 80, name: "http", protocol: "HTTP", targetPort: 8080 }],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      workloadSelector: { labels: { app: "legacy" } },
    }),
    workloadEntry("vm-1", "127.10.3.1", { app: "legacy" }, { locality: "us-east/zone-a", weight: 3 }),
    workloadEntry("vm-2", "127.10.3.2", { app: "legacy" }, { ports: { http: 9090 } }),
    workloadEntry("other", "127.10.3.3", { app: "other" }),
  ];
  const reg = buildRegistry(objs, []);
  const svc = reg.services.get("legacy.example.internal")!;
  assert.equal(svc.resolution, "STATIC");
  assert.equal(svc.location, "MESH_INTERNAL");
  assert.deepEqual(svc.ports[0], { name: "http", number: 80, protocol: "HTTP", targetPort: 8080 });
  const eps = reg.endpoints.get("legacy.example.internal:80")!;
  assert.deepEqual(eps.map((e) => [e.address, e.port, e.locality, e.weight, e.workloadUid]), [
    ["127.10.3.1", 8080, "us-east/zone-a", 3, "WorkloadEntry/default/vm-1"],
    ["127.10.3.2", 9090, undefined, 1, "WorkloadEntry/default/vm-2"],
  ]);
});

test("ServiceEntry inline endpoints and DNS hosts", () => {
  const objs = [
    cfg("ServiceEntry", "inline", {
      hosts: ["db.internal"],
      ports: [{ number: 5432, name: "tcp", protocol: "TCP" }],
      resolution: "STATIC",
      endpoints: [{ address: "127.10.4.2" }, { address: "127.10.4.1", labels: { v: "a" } }],
    }),
    cfg("ServiceEntry", "external", {
      hosts: ["api.example.com", "*.wild.example.com"],
      ports: [{ number: 443, name: "tls", protocol: "TLS" }],
      resolution: "DNS",
    }),
  ];
  const reg = buildRegistry(objs, []);
  assert.deepEqual(reg.endpoints.get("db.internal:5432")!.map((e) => e.address), ["127.10.4.1", "127.10.4.2"]);
  assert.equal(reg.services.get("api.example.com")!.location, "MESH_EXTERNAL");
  assert.deepEqual(reg.endpoints.get("api.example.com:443")!.map((e) => `${e.address}:${e.port}`), ["api.example.com:443"]);
  assert.deepEqual(reg.endpoints.get("*.wild.example.com:443"), []);
  assert.equal(reg.workloads.size, 2);
});

test("an auto-registered proxy appears and leaves with its connection", () => {
  const objs = [kubeService("ratings", 9080)];
  const p = proxy("ratings-v1", "127.10.1.3", { app: "ratings" }, { ports: [{ name: "http", containerPort: 9080 }] });
  const up = buildRegistry(objs, [p]);
  assert.equal(up.workloads.get(p.id)?.origin, "auto-registered");
  assert.equal(up.workloads.get(p.id)?.hasSidecar, true);
  assert.equal(up.endpoints.get("ratings.default.svc.cluster.local:9080")!.length, 1);
  const down = buildRegistry(objs, []);
  assert.equal(down.workloads.size, 0);
  assert.deepEqual(down.endpoints.get("ratings.default.svc.cluster.local:9080"), []);
  const noReg = buildRegistry(objs, [{ ...p, autoRegister: false }]);
  assert.equal(noReg.workloads.size, 0);
});

test("named targetPort resolves against each workload's named ports", () => {
  const objs = [kubeService("web", 80, { portName: "http-web", targetPort: "web-port" })];
  const reg = buildRegistry(objs, [
    proxy("web-a", "127.10.1.1", { app: "web" }, { ports: [{ name: "web-port", containerPort: 8081 }] }),
    proxy("web-b", "127.10.1.2", { app: "web" }, { ports: [{ name: "web-port", containerPort: 8082 }] }),
    proxy("web-c", "127.10.1.3", { app: "web" }, { ports: [{ name: "other", containerPort: 8083 }] }),
  ]);
  assert.deepEqual(reg.endpoints.get("web.default.svc.cluster.local:80")!.map((e) => `${e.address}:${e.port}`), [
    "127.10.1.1:8081", "127.10.1.2:8082",
  ]);
});

test("deterministic regardless of input order; exportTo annotation read", () => {
  const objs = [...bookinfoObjects(), cfg("Service", "hidden", { selector: { app: "h" }, ports: [{ port: 80 }] }, { annotations: { "networking.istio.io/exportTo": "." } })];
  const a = buildRegistry(objs, bookinfoProxies());
  const b = buildRegistry([...objs].reverse(), [...bookinfoProxies()].reverse());
  assert.deepEqual([...a.services.entries()], [...b.services.entries()]);
  assert.deepEqual([...a.endpoints.entries()], [...b.endpoints.entries()]);
  assert.deepEqual([...a.workloads.keys()], [...b.workloads.keys()]);
  assert.deepEqual(a.services.get("hidden.default.svc.cluster.local")!.exportTo, ["."]);
  assert.equal(a.services.get("hidden.default.svc.cluster.local")!.ports[0].protocol, "UNKNOWN");
});

test("an auto-registered workload reported unhealthy gives unhealthy endpoints; others stay healthy", () => {
  const proxies = bookinfoProxies();
  const v2 = proxies.find((p) => p.name === "reviews-v2")!;
  const health = new Map([[v2.id, { healthy: false, message: "127.10.2.5:9080: connection refused" }], [proxies[0]!.id, { healthy: true }]]);
  const reg = buildRegistry(bookinfoObjects(), proxies, { health });
  const eps = reg.endpoints.get("reviews.default.svc.cluster.local:9080")!;
  assert.deepEqual(eps.map((e) => `${e.labels.version}:${e.healthy}`), ["v1:true", "v2:false", "v3:true"]);
  const w = reg.workloads.get(v2.id)!;
  assert.equal(w.healthy, false);
  assert.equal(w.healthMessage, "127.10.2.5:9080: connection refused");
  assert.equal(reg.workloads.get(proxies[0]!.id)!.healthy, undefined, "healthy is the default, not spelled out");
  assert.equal(reg.endpoints.get("productpage.default.svc.cluster.local:9080")![0]!.healthy, true);
  // Pure: the same inputs give the same registry; without health everything is healthy.
  assert.deepEqual([...buildRegistry(bookinfoObjects(), proxies, { health }).endpoints], [...reg.endpoints]);
  assert.ok(buildRegistry(bookinfoObjects(), proxies).endpoints.get("reviews.default.svc.cluster.local:9080")!.every((e) => e.healthy));
});
