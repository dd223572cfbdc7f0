// Request matching and host addressing as users configure them, checked against the proxy's
// own matcher (see simulate.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies, proxy } from "../../src/registry/fixtures.ts";
import { simulate } from "./simulate.ts";
import { bookinfo } from "./bookinfo.ts";

const PRODUCTPAGE = "outbound|9080||productpage.default.svc.cluster.local";
const DETAILS = "outbound|9080||details.default.svc.cluster.local";
const RATINGS = "outbound|9080||ratings.default.svc.cluster.local";

test("uri exact, prefix, regex and ignoreUriCase; no catch-all means 404 NR", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "reviews-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: productpage
spec:
  hosts:
  - productpage
  http:
  - name: login
    match:
    - uri:
        exact: /login
    route:
    - destination:
        host: productpage
  - name: static
    match:
    - uri:
        prefix: /static/
      ignoreUriCase: true
    route:
    - destination:
        host: productpage
  - name: api
    match:
    - uri:
        regex: /api/v[0-9]+/products
    route:
    - destination:
        host: details
`) });
  const at = (path: string) => sim.request({ url: `http://productpage:9080${path}` });
  assert.equal(at("/login").routeName, "login");
  assert.equal(at("/login?next=/").routeName, "login", "the query string is not part of the path");
  assert.equal(at("/login/").status, 404, "exact means exact");
  assert.equal(at("/LOGIN").status, 404, "case-sensitive without ignoreUriCase");
  assert.equal(at("/static/app.css").routeName, "static");
  assert.equal(at("/STATIC/App.css").routeName, "static", "ignoreUriCase");
  assert.equal(at("/static").status, 404);
  const api = at("/api/v1/products");
  assert.equal(api.routeName, "api");
  assert.equal(api.cluster, DETAILS);
  assert.equal(at("/api/v12/products").cluster, DETAILS);
  assert.equal(at("/api/vX/products").status, 404);
  assert.equal(at("/api/v1/products/0").status, 404, "a regex must match the whole path");
  assert.equal(at("/").flag, "NR");
});

test("a method match sends POSTs to one destination and the rest to another", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - match:
    - method:
        exact: POST
    route:
    - destination:
        host: details
  - route:
    - destination:
        host: ratings
`) });
  const url = "http://ratings:9080/ratings/0";
  assert.equal(sim.request({ url, method: "POST" }).cluster, DETAILS);
  assert.equal(sim.request({ url, method: "GET" }).cluster, RATINGS);
  assert.equal(sim.request({ url, method: "PUT" }).cluster, RATINGS);
});

test("a VirtualService in another namespace with short names means hosts of its own namespace", () => {
  const config = `
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: team-a
spec:
  selector:
    app: reviews
  ports:
  - name: http
    port: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector:
    app: old-reviews
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: team-a
spec:
  hosts:
  - reviews
  http:
  - match:
    - uri:
        prefix: /v2
    route:
    - destination:
        host: reviews
  - directResponse:
      status: 418
`;
  const ports = [{ name: "http", containerPort: 9080 }];
  const proxies = [
    proxy("reviews-a", "127.10.1.20", { app: "reviews" }, { namespace: "team-a", ports }),
    proxy("old-reviews", "127.10.1.21", { app: "old-reviews" }, { ports }),
    proxy("client", "127.10.1.22", { app: "client" }),
  ];
  const sim = simulate({ config, proxies, proxy: "client" });
  // "reviews" in team-a's VirtualService is reviews.team-a, not the client's reviews.default.
  const r = sim.request({ url: "http://reviews.team-a:9080/v2/x" });
  assert.equal(r.virtualHost, "reviews.team-a.svc.cluster.local:9080");
  assert.equal(r.cluster, "outbound|9080||reviews.team-a.svc.cluster.local");
  assert.deepEqual(r.endpoints, ["127.10.1.20:9080"]);
  assert.equal(sim.request({ url: "http://reviews.team-a.svc.cluster.local:9080/other" }).status, 418);
  // From default, the bare name is reviews.default, which no VirtualService touches.
  const local = sim.request({ url: "http://reviews:9080/v2/x" });
  assert.equal(local.virtualHost, "reviews.default.svc.cluster.local:9080");
  assert.equal(local.routeName, "default");
  assert.deepEqual(local.endpoints, ["127.10.1.21:9080"]);
});

test("two VirtualServices for different hosts each govern their own host only", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
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
        subset: v3
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
spec:
  hosts:
  - details.default.svc.cluster.local
  http:
  - timeout: 2s
    route:
    - destination:
        host: ratings
`) });
  assert.equal(sim.request({ url: "http://reviews:9080/" }).cluster, "outbound|9080|v3|reviews.default.svc.cluster.local");
  assert.equal(sim.request({ url: "http://details:9080/" }).cluster, RATINGS);
  assert.equal(sim.request({ url: "http://ratings:9080/" }).routeName, "default");
  assert.equal(sim.request({ url: "http://productpage:9080/" }).cluster, PRODUCTPAGE);
});

const WEB = `
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
`;

test("a port-80 service is reachable with and without the port in the authority", () => {
  const proxies = [
    proxy("web-1", "127.10.1.30", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] }),
    proxy("client", "127.10.1.31", { app: "client" }),
  ];
  const sim = simulate({ config: WEB, proxies, proxy: "client" });
  for (const url of ["http://web/", "http://web:80/", "http://web.default/x", "http://web.default.svc.cluster.local/", "http://WEB.default.svc:80/"]) {
    const r = sim.request({ url });
    assert.equal(r.virtualHost, "web.default.svc.cluster.local:80", url);
    assert.equal(r.cluster, "outbound|80||web.default.svc.cluster.local", url);
    assert.deepEqual(r.endpoints, ["127.10.1.30:8080"], url);
  }
  assert.equal(sim.request({ url: "http://web:8080/" }).virtualHost, "allow_any", "the target port is not a service port");
});

test("host:port addressing: every alias with the service port, origin form with a Host header too", () => {
  const sim = simulate({ config: bookinfo(), proxies: bookinfoProxies(), proxy: "productpage-v1" });
  for (const host of ["details:9080", "details.default:9080", "details.default.svc:9080", "details.default.svc.cluster.local:9080"]) {
    assert.equal(sim.request({ url: `http://${host}/details/0` }).cluster, DETAILS, host);
    assert.equal(sim.request({ url: "/details/0", headers: { host } }).cluster, DETAILS, `Host: ${host}`);
  }
  assert.equal(sim.request({ url: "http://details/details/0" }).virtualHost, "allow_any", "9080 is not implied");
  assert.equal(sim.request({ url: "http://details.other:9080/" }).virtualHost, "allow_any", "another namespace has no details");
});

test("match conditions are ORed; the fields inside one condition are ANDed", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
spec:
  hosts:
  - details
  http:
  - name: canary
    match:
    - uri:
        regex: /details/[0-9]+
      method:
        exact: POST
    - queryParams:
        canary:
          exact: "yes"
      withoutHeaders:
        x-no-canary: {}
    route:
    - destination:
        host: ratings
  - route:
    - destination:
        host: details
`) });
  const call = (url: string, method = "GET", headers: Record<string, string> = {}) => sim.request({ url: `http://details:9080${url}`, method, headers });
  assert.equal(call("/details/7", "POST").cluster, RATINGS);
  assert.equal(call("/details/7", "POST").routeName, "canary");
  assert.equal(call("/details/7", "GET").cluster, DETAILS, "regex alone is not enough");
  assert.equal(call("/any?canary=yes").cluster, RATINGS);
  assert.equal(call("/any?canary=yes").routeName, "canary");
  assert.equal(call("/any?canary=yes", "GET", { "x-no-canary": "1" }).cluster, DETAILS, "withoutHeaders");
  assert.equal(call("/any?canary=no").cluster, DETAILS);
});

test("sidecars ignore a VirtualService bound only to a gateway; wildcard hosts apply; an exact host wins", () => {
  const gatewayOnly = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews-gateway
spec:
  hosts:
  - reviews
  gateways:
  - bookinfo-gateway
  http:
  - route:
    - destination:
        host: reviews
        subset: v3
`;
  const wildcard = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: everything
spec:
  hosts:
  - "*.default.svc.cluster.local"
  http:
  - route:
    - destination:
        host: details
`;
  const exact = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - name: own
    route:
    - destination:
        host: ratings
`;
  const gw = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(gatewayOnly) });
  assert.equal(gw.request({ url: "http://reviews:9080/" }).routeName, "default");
  const meshToo = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(gatewayOnly.replace("  - bookinfo-gateway\n", "  - bookinfo-gateway\n  - mesh\n")) });
  assert.equal(meshToo.request({ url: "http://reviews:9080/" }).cluster, "outbound|9080|v3|reviews.default.svc.cluster.local");
  const wild = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(wildcard, exact) });
  assert.equal(wild.request({ url: "http://productpage:9080/" }).cluster, DETAILS);
  assert.equal(wild.request({ url: "http://ratings:9080/" }).routeName, "own");
});
