// Match fields that decide per proxy or per port whether a route exists (port, sourceLabels,
// sourceNamespace), the :scheme matcher, and mirror policies surviving the xDS wire; checked
// with the proxy's own route selection (see simulate.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies, proxy } from "../../src/registry/fixtures.ts";
import { simulate } from "./simulate.ts";
import { bookinfo, REVIEWS } from "./bookinfo.ts";

const V1 = `outbound|9080|v1|${REVIEWS}`, V2 = `outbound|9080|v2|${REVIEWS}`, V3 = `outbound|9080|v3|${REVIEWS}`;

const REVIEWS_BY_SOURCE = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: from-productpage
    match:
    - sourceLabels:
        app: productpage
    route:
    - destination:
        host: reviews
        subset: v2
  - name: from-test
    match:
    - sourceNamespace: test
    route:
    - destination:
        host: reviews
        subset: v3
  - name: rest
    route:
    - destination:
        host: reviews
        subset: v1
`;

test("sourceLabels: two proxies with different labels get different routes for the same request", () => {
  const proxies = bookinfoProxies();
  const config = bookinfo(REVIEWS_BY_SOURCE);
  const fromProductpage = simulate({ config, proxies, proxy: "productpage-v1" }).request({ url: "http://reviews:9080/reviews/0" });
  assert.equal(fromProductpage.routeName, "from-productpage");
  assert.equal(fromProductpage.cluster, V2);
  const fromDetails = simulate({ config, proxies, proxy: "details-v1" }).request({ url: "http://reviews:9080/reviews/0" });
  assert.equal(fromDetails.routeName, "rest");
  assert.equal(fromDetails.cluster, V1);
});

test("sourceNamespace: only proxies in that namespace take the route", () => {
  const tester = proxy("tester", "127.10.1.40", { app: "tester" }, { namespace: "test" });
  const proxies = [...bookinfoProxies(), tester];
  const config = bookinfo(REVIEWS_BY_SOURCE);
  const fromTest = simulate({ config, proxies, proxy: "tester" }).request({ url: "http://reviews.default:9080/" });
  assert.equal(fromTest.routeName, "from-test");
  assert.equal(fromTest.cluster, V3);
  assert.equal(simulate({ config, proxies, proxy: "ratings-v1" }).request({ url: "http://reviews:9080/" }).cluster, V1);
});

test("port: a match for one service port routes only requests on that port", () => {
  const config = `
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: http-admin
    port: 9000
---
apiVersion: v1
kind: Service
metadata:
  name: admin
spec:
  selector:
    app: admin
  ports:
  - name: http
    port: 9000
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts:
  - web
  http:
  - name: admin-port
    match:
    - port: 9000
    route:
    - destination:
        host: admin
  - name: rest
    route:
    - destination:
        host: web
`;
  const proxies = [
    proxy("web-1", "127.10.1.30", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }, { name: "http-admin", containerPort: 9000 }] }),
    proxy("admin-1", "127.10.1.31", { app: "admin" }, { ports: [{ name: "http", containerPort: 9000 }] }),
    proxy("client", "127.10.1.32", { app: "client" }),
  ];
  const sim = simulate({ config, proxies, proxy: "client" });
  const admin = sim.request({ url: "http://web:9000/stats" });
  assert.equal(admin.routeName, "admin-port");
  assert.equal(admin.cluster, "outbound|9000||admin.default.svc.cluster.local");
  assert.deepEqual(admin.endpoints, ["127.10.1.31:9000"]);
  const site = sim.request({ url: "http://web/index.html" });
  assert.equal(site.routeName, "rest");
  assert.equal(site.cluster, "outbound|80||web.default.svc.cluster.local");
  // The same VirtualService on port 80 has no admin-port route at all.
  const port80 = sim.snapshot.routeTables.get("http_proxy")?.findVirtualHost("web:80");
  assert.deepEqual(port80?.routes.map((r) => r.name), ["rest"]);
});

test("scheme: the sidecar's plain-HTTP requests match ':scheme' http, never https", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: tls-only
    match:
    - scheme:
        exact: https
    route:
    - destination:
        host: reviews
        subset: v3
  - name: plain
    match:
    - scheme:
        exact: http
    route:
    - destination:
        host: reviews
        subset: v2
`) });
  const r = sim.request({ url: "http://reviews:9080/" });
  assert.equal(r.routeName, "plain");
  assert.equal(r.cluster, V2);
});

test("withoutHeaders with a value: a request without the header at all takes the route", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: not-jason
    match:
    - withoutHeaders:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v1
  - name: jason
    route:
    - destination:
        host: reviews
        subset: v2
`) });
  assert.equal(sim.request({ url: "http://reviews:9080/" }).routeName, "not-jason");
  assert.equal(sim.request({ url: "http://reviews:9080/", headers: { "end-user": "mary" } }).routeName, "not-jason");
  assert.equal(sim.request({ url: "http://reviews:9080/", headers: { "end-user": "jason" } }).routeName, "jason");
});

test("mirror, mirrorPercentage and mirrors reach the proxy's compiled route over the wire", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: shadowed
    route:
    - destination:
        host: reviews
        subset: v1
    mirror:
      host: reviews
      subset: v2
    mirrorPercentage:
      value: 12.5
    mirrors:
    - destination:
        host: reviews
        subset: v3
`) });
  const r = sim.request({ url: "http://reviews:9080/" });
  assert.equal(r.cluster, V1);
  const route = sim.snapshot.routeTables.get("http_proxy")?.findVirtualHost("reviews:9080")?.routes[0];
  assert.equal(route?.action.kind, "route");
  assert.deepEqual(route?.action.kind === "route" ? route.action.mirrors : undefined, [{ cluster: V2, fraction: 0.125 }, { cluster: V3, fraction: 1 }]);
  assert.deepEqual(sim.warnings, [], "mirrors (Istio 1.22) is a known field");
});
