// Proxyless gRPC (node metadata GENERATOR=grpc): API listeners and route configurations named
// "<fqdn>:<port>", delivered through the proxy's state layer. grpc-js does the matching in a
// real client; here the proxy's matcher stands in for it on the same RouteConfiguration.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies, proxy } from "../../src/registry/fixtures.ts";
import { seededRandom, simulate } from "./simulate.ts";
import { bookinfo, REVIEWS, REVIEWS_POD } from "./bookinfo.ts";

const grpcClient = proxy("grpc-client", "127.10.1.40", { app: "grpc-client" }, { type: "grpc" });

const config = bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination:
        host: reviews
        subset: v3
      weight: 10
`);

test("listener and route configuration names are <fqdn>:<port>, one per service port", () => {
  const sim = simulate({ config, proxies: [...bookinfoProxies(), grpcClient], proxy: grpcClient });
  const names = ["details", "productpage", "ratings", "reviews"].map((s) => `${s}.default.svc.cluster.local:9080`);
  assert.deepEqual(sim.resources.listeners.map((l) => l.name), names);
  assert.deepEqual(sim.resources.routes.map((r) => r.name), names);
  assert.deepEqual([...sim.snapshot.routeTables.keys()].sort(), names);
  // API listeners have no address: the proxy state keeps them raw, it never binds them.
  assert.equal(sim.snapshot.listeners.size, 0);
  assert.deepEqual([...sim.snapshot.raw.listeners.keys()], names);
  assert.ok(sim.resources.clusters.every((c) => c.type === "EDS"));
});

test("a call on xds:///<fqdn>:<port> follows the VirtualService: header match and weights", () => {
  const sim = simulate({ config, proxies: [...bookinfoProxies(), grpcClient], proxy: grpcClient });
  const target = `${REVIEWS}:9080`;
  const method = "/bookinfo.Reviews/Get";
  const jason = sim.grpcCall({ target, method, metadata: { "end-user": "jason" } });
  assert.equal(jason.listener, target);
  assert.equal(jason.virtualHost, target);
  assert.equal(jason.cluster, `outbound|9080|v2|${REVIEWS}`);
  assert.deepEqual(jason.endpoints, [REVIEWS_POD.v2]);
  assert.equal(sim.grpcCall({ target, method }, { random: () => 0.5 }).cluster, `outbound|9080|v1|${REVIEWS}`);
  assert.equal(sim.grpcCall({ target, method }, { random: () => 0.95 }).cluster, `outbound|9080|v3|${REVIEWS}`);
  const random = seededRandom(3);
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) seen.add(sim.grpcCall({ target, method }, { random }).cluster!);
  assert.equal(seen.size, 2);
  // Other services: the default route.
  const ratings = sim.grpcCall({ target: "ratings.default.svc.cluster.local:9080", method: "/bookinfo.Ratings/Get" });
  assert.equal(ratings.routeName, "default");
  assert.deepEqual(ratings.endpoints, ["127.10.1.3:9080"]);
});

test("a target that names no listener fails (grpc-js: the listener does not exist)", () => {
  const sim = simulate({ config, proxies: [grpcClient], proxy: grpcClient });
  const r = sim.grpcCall({ target: "reviews:9080", method: "/bookinfo.Reviews/Get" });
  assert.equal(r.listener, undefined);
  assert.equal(r.status, 0);
  assert.match(r.details!, /no listener "reviews:9080"/);
});
