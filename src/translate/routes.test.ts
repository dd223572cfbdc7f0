import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../api/types.ts";
import { bookinfoObjects, bookinfoProxies, cfg, kubeService, proxy } from "../registry/fixtures.ts";
import { routeView, routeViewKey, translateRoutes } from "./routes.ts";
import { sourceLabelKeys } from "./route-builder.ts";
import { DEFAULT_RETRY_ON } from "./retries.ts";
import { inputFor, virtualHostNamed } from "./test-support.ts";

// Structure only: which route a request takes is simulated in test/simulation/.
const REVIEWS = "reviews.default.svc.cluster.local";
const reviewsDR = cfg("DestinationRule", "reviews", {
  host: "reviews",
  subsets: ["v1", "v2", "v3"].map((v) => ({ name: v, labels: { version: v } })),
});

function routeConfig(extra: ReturnType<typeof cfg>[], warnings?: ConfigError[], who = 0) {
  const proxies = bookinfoProxies();
  const rcs = translateRoutes(inputFor([...bookinfoObjects(), reviewsDR, ...extra], proxies, proxies[who]), warnings);
  assert.equal(rcs.length, 1);
  assert.equal(rcs[0].name, "http_proxy");
  return rcs[0];
}

const reviewsRoutes = (rc: ReturnType<typeof routeConfig>) => virtualHostNamed(rc, `${REVIEWS}:9080`).routes;

test("no VirtualService: one default route with Istio's retries and no timeout", () => {
  const rc = routeConfig([]);
  const vh = rc.virtual_hosts.find((v) => v.name === `${REVIEWS}:9080`)!;
  assert.deepEqual(vh.domains, [`${REVIEWS}:9080`, "reviews:9080", "reviews.default:9080", "reviews.default.svc:9080"]);
  assert.equal(vh.routes.length, 1);
  assert.deepEqual(vh.routes[0], {
    name: "default",
    match: { prefix: "/" },
    route: {
      cluster: `outbound|9080||${REVIEWS}`,
      timeout: { seconds: 0 },
      retry_policy: {
        retry_on: DEFAULT_RETRY_ON,
        num_retries: { value: 2 },
        retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }],
        host_selection_retry_max_attempts: 5,
      },
    },
  });
  assert.deepEqual(rc.virtual_hosts.map((v) => v.name), [...rc.virtual_hosts.map((v) => v.name)].sort());
});

test("header match end-user: jason -> v2, everything else -> v1 (short host names)", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
      { name: "rest", route: [{ destination: { host: "reviews", subset: "v1" } }] },
    ],
  });
  const routes = reviewsRoutes(routeConfig([vs]));
  assert.deepEqual(routes.map((r) => [r.name, r.route?.cluster]), [["jason", `outbound|9080|v2|${REVIEWS}`], ["rest", `outbound|9080|v1|${REVIEWS}`]]);
  assert.deepEqual(routes[0].match, { prefix: "/", headers: [{ name: "end-user", string_match: { exact: "jason" } }] });
  const r = routes[1];
  assert.deepEqual(r.match, { prefix: "/" });
  assert.equal(r.metadata?.filter_metadata?.istio.fields?.config.string_value, "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews");
  assert.deepEqual(r.route?.timeout, { seconds: 0 });
  assert.equal(r.route?.retry_policy?.num_retries?.value, 2);
});

test("50/50 weights become weighted_clusters", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: [REVIEWS],
    http: [{ route: [
      { destination: { host: "reviews", subset: "v1" }, weight: 50 },
      { destination: { host: "reviews", subset: "v3" }, weight: 50 },
    ] }],
  });
  const [r, ...rest] = reviewsRoutes(routeConfig([vs]));
  assert.equal(rest.length, 0);
  assert.equal(r.route?.cluster, undefined);
  assert.deepEqual(r.route?.weighted_clusters, { clusters: [
    { name: `outbound|9080|v1|${REVIEWS}`, weight: { value: 50 } },
    { name: `outbound|9080|v3|${REVIEWS}`, weight: { value: 50 } },
  ] });
});

test("uri prefix, exact, regex, ignoreUriCase; several matches make several routes", () => {
  const vs = cfg("VirtualService", "productpage", {
    hosts: ["productpage"],
    http: [
      { name: "pages", match: [{ name: "login", uri: { exact: "/login" } }, { name: "static", uri: { prefix: "/static/" }, ignoreUriCase: true }], route: [{ destination: { host: "productpage" } }] },
      { name: "api", match: [{ uri: { regex: "/api/v[0-9]+/.*" }, method: { exact: "POST" } }], route: [{ destination: { host: "details" } }] },
    ],
  });
  const rc = routeConfig([vs]);
  const vh = rc.virtual_hosts.find((v) => v.name === "productpage.default.svc.cluster.local:9080")!;
  assert.deepEqual(vh.routes.map((r) => r.name), ["pages.login", "pages.static", "api"]);
  assert.deepEqual(vh.routes[0].match, { path: "/login" });
  assert.deepEqual(vh.routes[1].match, { prefix: "/static/", case_sensitive: { value: false } });
  assert.deepEqual(vh.routes[2].match, { safe_regex: { regex: "/api/v[0-9]+/.*" }, headers: [{ name: ":method", string_match: { exact: "POST" } }] });
  assert.deepEqual(vh.routes.map((r) => r.route?.cluster), ["outbound|9080||productpage.default.svc.cluster.local", "outbound|9080||productpage.default.svc.cluster.local", "outbound|9080||details.default.svc.cluster.local"]);
});

test("withoutHeaders, queryParams, authority, prefix header", () => {
  const vs = cfg("VirtualService", "ratings", {
    hosts: ["ratings"],
    http: [
      { match: [{ withoutHeaders: { "x-debug": {} }, queryParams: { v: { exact: "2" } }, authority: { prefix: "ratings" }, headers: { cookie: { prefix: "" } } }], route: [{ destination: { host: "ratings" } }] },
    ],
  });
  const r = routeConfig([vs]).virtual_hosts.find((v) => v.name.startsWith("ratings."))!.routes[0];
  assert.deepEqual(r.match, {
    prefix: "/",
    headers: [
      { name: "cookie", present_match: true },
      { name: "x-debug", present_match: true, invert_match: true },
      { name: ":authority", string_match: { prefix: "ratings" } },
    ],
    query_parameters: [{ name: "v", string_match: { exact: "2" } }],
  });
});

test("a VirtualService bound to a gateway is ignored by sidecars", () => {
  const vs = cfg("VirtualService", "reviews-gw", {
    hosts: ["reviews"], gateways: ["bookinfo-gateway"],
    http: [{ route: [{ destination: { host: "reviews", subset: "v3" } }] }],
  });
  assert.deepEqual(reviewsRoutes(routeConfig([vs])).map((r) => r.name), ["default"]);
  const meshToo = cfg("VirtualService", "reviews-both", { ...vs.spec, gateways: ["bookinfo-gateway", "mesh"] });
  assert.deepEqual(reviewsRoutes(routeConfig([meshToo])).map((r) => r.route?.cluster), [`outbound|9080|v3|${REVIEWS}`]);
});

test("an undefined subset keeps the route (503 NC at the proxy) and warns", () => {
  const vs = cfg("VirtualService", "reviews", { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v9" } }] }] });
  const warnings: ConfigError[] = [];
  assert.deepEqual(reviewsRoutes(routeConfig([vs], warnings)).map((r) => r.route?.cluster), [`outbound|9080|v9|${REVIEWS}`]);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].field, "spec.http[0].route[0].destination.subset");
  assert.equal(warnings[0].file, "test.yaml");
  assert.match(warnings[0].message, /subset "v9".*503 \(NC\)/);
});

test("rewrite, redirect, directResponse, header manipulation, timeout and retries", () => {
  const vs = cfg("VirtualService", "details", {
    hosts: ["details"],
    http: [
      { match: [{ uri: { prefix: "/old" } }], redirect: { uri: "/new", redirectCode: 302 } },
      { match: [{ uri: { prefix: "/gone" } }], directResponse: { status: 410, body: { string: "gone" } } },
      {
        match: [{ uri: { prefix: "/v1/" } }],
        rewrite: { uri: "/", authority: "details.internal" },
        timeout: "1.5s",
        retries: { attempts: 3, perTryTimeout: "500ms", retryOn: "gateway-error,503" },
        headers: { request: { set: { "x-a": "1" }, add: { "x-b": "2" }, remove: ["x-c"] }, response: { remove: ["server"] } },
        route: [{ destination: { host: "details" } }],
      },
      { route: [{ destination: { host: "details", port: { number: 9080 } } }], retries: { attempts: 0 } },
    ],
  });
  const [redirect, gone, r, last, ...rest] = virtualHostNamed(routeConfig([vs]), "details.default.svc.cluster.local:9080").routes;
  assert.equal(rest.length, 0);
  assert.deepEqual(redirect.match, { prefix: "/old" });
  assert.deepEqual(redirect.redirect, { path_redirect: "/new", response_code: "FOUND" });
  assert.deepEqual(gone.direct_response, { status: 410, body: { inline_string: "gone" } });
  assert.deepEqual(r.match, { prefix: "/v1/" });
  assert.equal(r.route?.prefix_rewrite, "/");
  assert.equal(r.route?.host_rewrite_literal, "details.internal");
  assert.deepEqual(r.route?.timeout, { seconds: 1, nanos: 500_000_000 });
  assert.deepEqual(r.route?.retry_policy, {
    retry_on: "gateway-error,retriable-status-codes", num_retries: { value: 3 }, retriable_status_codes: [503],
    per_try_timeout: { seconds: 0, nanos: 500_000_000 },
    retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }], host_selection_retry_max_attempts: 5,
  });
  assert.deepEqual(r.request_headers_to_add, [
    { header: { key: "x-a", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
    { header: { key: "x-b", value: "2" }, append_action: "APPEND_IF_EXISTS_OR_ADD" },
  ]);
  assert.deepEqual(r.request_headers_to_remove, ["x-c"]);
  assert.deepEqual(r.response_headers_to_remove, ["server"]);
  assert.deepEqual(last.match, { prefix: "/" });
  assert.equal(last.route?.retry_policy, undefined); // attempts 0 disables
});

test("short names resolve in the VirtualService's namespace; bare aliases only in-namespace", () => {
  const objs = [
    kubeService("reviews", 9080, { namespace: "team-a" }),
    kubeService("web", 80, { namespace: "team-b" }),
    // In team-a, "reviews" means reviews.team-a, not reviews.default.
    cfg("VirtualService", "r", { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }], timeout: "3s" }] }, { namespace: "team-a" }),
  ];
  const p = proxy("client", "127.10.1.7", { app: "client" }, { namespace: "team-b" });
  const [rc] = translateRoutes(inputFor(objs, [p], p));
  const reviews = rc.virtual_hosts.find((v) => v.name === "reviews.team-a.svc.cluster.local:9080")!;
  assert.deepEqual(reviews.domains, ["reviews.team-a.svc.cluster.local:9080", "reviews.team-a:9080", "reviews.team-a.svc:9080"]);
  assert.deepEqual(reviews.routes[0].route?.timeout, { seconds: 3 });
  assert.equal(reviews.routes[0].route?.cluster, "outbound|9080||reviews.team-a.svc.cluster.local");
  const web = rc.virtual_hosts.find((v) => v.name === "web.team-b.svc.cluster.local:80")!;
  assert.deepEqual(web.domains, [
    "web.team-b.svc.cluster.local:80", "web.team-b.svc.cluster.local", "web:80", "web",
    "web.team-b:80", "web.team-b", "web.team-b.svc:80", "web.team-b.svc",
  ]);
});

test("wildcard VirtualService hosts apply; exact host wins over wildcard", () => {
  const wild = cfg("VirtualService", "all", { hosts: ["*.default.svc.cluster.local"], http: [{ route: [{ destination: { host: "details" } }] }] });
  const exact = cfg("VirtualService", "ratings", { hosts: ["ratings"], http: [{ name: "own", route: [{ destination: { host: "ratings" } }] }] });
  const rc = routeConfig([wild, exact]);
  assert.equal(virtualHostNamed(rc, "productpage.default.svc.cluster.local:9080").routes[0].route?.cluster, "outbound|9080||details.default.svc.cluster.local");
  assert.deepEqual(virtualHostNamed(rc, "ratings.default.svc.cluster.local:9080").routes.map((r) => r.name), ["own"]);
});

test("TCP and TLS ports get no virtual host", () => {
  const objs = [cfg("Service", "db", { selector: { app: "db" }, ports: [{ name: "tcp-db", port: 5432 }, { name: "http-admin", port: 8080 }] })];
  const p = proxy("a", "127.10.1.1", { app: "a" });
  const [rc] = translateRoutes(inputFor(objs, [p], p));
  assert.deepEqual(rc.virtual_hosts.map((v) => v.name), ["allow_any", "db.default.svc.cluster.local:8080"]);
});

test("route view: labels narrowed to the keys sourceLabels name; the key is the whole view", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [{ match: [{ sourceLabels: { app: "productpage", track: "canary" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }],
  });
  const keys = sourceLabelKeys([...bookinfoObjects(), vs]);
  assert.deepEqual([...keys].sort(), ["app", "track"]);
  const p = proxy("productpage-v1", "127.10.1.1", { version: "v1", app: "productpage", pod: "x" });
  const view = routeView(p, keys);
  assert.deepEqual(view, { type: "sidecar", namespace: "default", labels: { app: "productpage" } });
  // Label order and unnamed labels do not change the key; a named label, namespace or type does.
  const same = routeView({ ...p, labels: { pod: "y", app: "productpage" } }, keys);
  assert.equal(routeViewKey(same), routeViewKey(view));
  assert.notEqual(routeViewKey(routeView({ ...p, labels: { app: "productpage", track: "canary" } }, keys)), routeViewKey(view));
  assert.notEqual(routeViewKey({ ...view, namespace: "other" }), routeViewKey(view));
  assert.notEqual(routeViewKey({ ...view, type: "grpc" }), routeViewKey(view));
  // The narrowed view translates exactly as the whole proxy does.
  const input = inputFor([...bookinfoObjects(), reviewsDR, vs], [p], p);
  assert.deepEqual(translateRoutes({ ...input, proxy: view }), translateRoutes(input));
  assert.deepEqual(sourceLabelKeys(bookinfoObjects()), new Set());
});
