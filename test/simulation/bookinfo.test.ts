import { readFileSync } from "node:fs";
// Bookinfo traffic management tasks (istio.io "Request Routing" and "Traffic Shifting"),
// simulated from productpage's sidecar through the real translator and proxy state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies } from "../../src/registry/fixtures.ts";
import { seededRandom, simulate } from "./simulate.ts";
import { bookinfo, REVIEWS, REVIEWS_POD } from "./bookinfo.ts";

const fromProductpage = (...documents: string[]) => simulate({ config: bookinfo(...documents), proxies: bookinfoProxies(), proxy: "productpage-v1" });

const ALL_V1 = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
`;

test("virtual-service-all-v1: every reviews request goes to v1's pod", () => {
  const sim = fromProductpage(ALL_V1);
  for (const url of ["http://reviews:9080/reviews/0", `http://${REVIEWS}:9080/health`]) {
    const r = sim.request({ url });
    assert.equal(r.listener, "http_proxy");
    assert.equal(r.virtualHost, `${REVIEWS}:9080`);
    assert.equal(r.cluster, `outbound|9080|v1|${REVIEWS}`);
    assert.deepEqual(r.endpoints, [REVIEWS_POD.v1]);
    assert.equal(r.status, undefined, "forwarded upstream");
  }
  // Other services keep their default route to all their endpoints.
  const ratings = sim.request({ url: "http://ratings:9080/ratings/0" });
  assert.equal(ratings.routeName, "default");
  assert.equal(ratings.cluster, "outbound|9080||ratings.default.svc.cluster.local");
  assert.deepEqual(ratings.endpoints, ["127.10.1.3:9080"]);
});

test("virtual-service-reviews-v2-v3: a 50/50 split reaches both versions", () => {
  const sim = fromProductpage(readFileSync(new URL("../../examples/reviews-routes/reviews-v2-v3-50-50.yaml", import.meta.url), "utf8"));
  const url = "http://reviews:9080/reviews/0";
  assert.equal(sim.request({ url }, { random: () => 0.1 }).cluster, `outbound|9080|v2|${REVIEWS}`);
  assert.equal(sim.request({ url }, { random: () => 0.9 }).cluster, `outbound|9080|v3|${REVIEWS}`);
  assert.deepEqual(sim.request({ url }, { random: () => 0.9 }).endpoints, [REVIEWS_POD.v3]);
  const random = seededRandom(7);
  const counts = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const c = sim.request({ url }, { random }).cluster!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [`outbound|9080|v2|${REVIEWS}`, `outbound|9080|v3|${REVIEWS}`]);
  for (const n of counts.values()) assert.ok(n > 60, `a 50/50 split gave ${[...counts.values()].join("/")}`);
});

test("virtual-service-reviews-test-v2: end-user jason goes to v2, everyone else to v1", () => {
  const sim = fromProductpage(`
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
`);
  const url = "http://reviews:9080/reviews/0";
  const jason = sim.request({ url, headers: { "end-user": "jason" } });
  assert.equal(jason.cluster, `outbound|9080|v2|${REVIEWS}`);
  assert.deepEqual(jason.endpoints, [REVIEWS_POD.v2]);
  assert.equal(sim.request({ url, headers: { "end-user": "Jason" } }).cluster, `outbound|9080|v1|${REVIEWS}`, "exact is case-sensitive");
  assert.equal(sim.request({ url, headers: { "end-user": "bob" } }).cluster, `outbound|9080|v1|${REVIEWS}`);
  assert.equal(sim.request({ url }).cluster, `outbound|9080|v1|${REVIEWS}`);
});

test("a subset the DestinationRule does not define: the route stays, the proxy answers 503 NC", () => {
  const sim = fromProductpage(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - route:
    - destination:
        host: ratings
        subset: v1
`);
  const r = sim.request({ url: "http://ratings:9080/ratings/0" });
  assert.equal(r.cluster, "outbound|9080|v1|ratings.default.svc.cluster.local");
  assert.equal(r.status, 503);
  assert.equal(r.flag, "NC");
  assert.deepEqual(r.endpoints, []);
  assert.ok(sim.warnings.some((w) => w.kind === "VirtualService" && w.name === "ratings" && /subset "v1"/.test(w.message)), "the translator warns about it");
});

test("a host without a VirtualService gets the default route to every endpoint", () => {
  const sim = fromProductpage();
  const r = sim.request({ url: "http://reviews:9080/reviews/0" });
  assert.equal(r.routeName, "default");
  assert.equal(r.cluster, `outbound|9080||${REVIEWS}`);
  assert.deepEqual([...r.endpoints].sort(), [REVIEWS_POD.v1, REVIEWS_POD.v2, REVIEWS_POD.v3]);
});

test("an unknown host or a wrong port is no service's: ALLOW_ANY (Istio's default) passes it through", () => {
  const sim = fromProductpage(ALL_V1);
  for (const url of ["http://unknown:9080/", "http://reviews:9081/", "http://reviews/"]) {
    const r = sim.request({ url });
    assert.equal(r.virtualHost, "allow_any", url);
    assert.equal(r.cluster, "PassthroughCluster", url);
    assert.equal(r.status, undefined, url);
  }
});

test("inbound: the sidecar's inbound listener forwards to the application", () => {
  const sim = simulate({ config: bookinfo(ALL_V1), proxies: bookinfoProxies(), proxy: "reviews-v2" });
  const r = sim.request({ url: "/reviews/0", headers: { host: "reviews:9080" }, listener: "inbound|9080" });
  assert.equal(r.cluster, "inbound|9080||");
  assert.deepEqual(r.endpoints, ["127.10.2.5:9080"]);
  assert.equal(sim.request({ url: "http://reviews:9080/", listener: "inbound|9999" }).status, 0);
});
