// VirtualService mirroring and the match fields that decide whether a route exists at all for
// a proxy (port, sourceLabels, sourceNamespace, gateways), checked against what Istio generates.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { bookinfoObjects, bookinfoProxies, cfg, proxy } from "../registry/fixtures.ts";
import { translateRoutes } from "./routes.ts";
import { encodeResource } from "../xds/protos.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { inputFor, virtualHostNamed } from "./test-support.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const reviewsDR = cfg("DestinationRule", "reviews", {
  host: "reviews",
  subsets: ["v1", "v2", "v3"].map((v) => ({ name: v, labels: { version: v } })),
});

function reviewsRoutes(vs: ReturnType<typeof cfg>, who: ProxyNode = bookinfoProxies()[0], warnings?: ConfigError[]) {
  const proxies = bookinfoProxies();
  const [rc] = translateRoutes(inputFor([...bookinfoObjects(), reviewsDR, vs], proxies.some((p) => p.id === who.id) ? proxies : [...proxies, who], who), warnings);
  // Whatever the translator emits must pass the strict encoder against Envoy's route.proto.
  encodeResource(TYPE.route, rc);
  return virtualHostNamed(rc, `${REVIEWS}:9080`).routes;
}

test("mirror without a percentage mirrors everything; mirrorPercentage becomes parts per million", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { name: "all", match: [{ uri: { prefix: "/all" } }], route: [{ destination: { host: "reviews", subset: "v1" } }], mirror: { host: "reviews", subset: "v2" } },
      { name: "half", match: [{ uri: { prefix: "/half" } }], route: [{ destination: { host: "reviews", subset: "v1" } }], mirror: { host: "reviews", subset: "v3" }, mirrorPercentage: { value: 50 } },
      { name: "none", match: [{ uri: { prefix: "/none" } }], route: [{ destination: { host: "reviews", subset: "v1" } }], mirror: { host: "reviews", subset: "v3" }, mirrorPercentage: { value: 0 } },
      { name: "tiny", route: [{ destination: { host: "reviews", subset: "v1" } }], mirror: { host: "ratings" }, mirrorPercentage: { value: 0.5 } },
    ],
  });
  const byName = new Map(reviewsRoutes(vs).map((r) => [r.name, r.route]));
  assert.deepEqual(byName.get("all")?.request_mirror_policies, [
    { cluster: `outbound|9080|v2|${REVIEWS}`, runtime_fraction: { default_value: { numerator: 100, denominator: "HUNDRED" } }, trace_sampled: { value: false } },
  ]);
  assert.deepEqual(byName.get("half")?.request_mirror_policies, [
    { cluster: `outbound|9080|v3|${REVIEWS}`, runtime_fraction: { default_value: { numerator: 500_000, denominator: "MILLION" } }, trace_sampled: { value: false } },
  ]);
  assert.equal(byName.get("none")?.request_mirror_policies, undefined, "an explicit 0% does not mirror");
  assert.deepEqual(byName.get("tiny")?.request_mirror_policies?.map((m) => [m.cluster, m.runtime_fraction?.default_value.numerator]), [
    ["outbound|9080||ratings.default.svc.cluster.local", 5000],
  ]);
});

test("mirror first, then mirrors in order, each with its own percentage; a redirect has no mirror", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      {
        name: "many",
        match: [{ uri: { prefix: "/many" } }],
        route: [{ destination: { host: "reviews", subset: "v1" }, weight: 90 }, { destination: { host: "reviews", subset: "v2" }, weight: 10 }],
        mirror: { host: "ratings" },
        mirrors: [
          { destination: { host: "reviews", subset: "v3" }, percentage: { value: 25 } },
          { destination: { host: "details" } },
          { destination: { host: "reviews", subset: "v2" }, percentage: { value: 0 } },
        ],
      },
      { name: "moved", redirect: { uri: "/elsewhere" }, mirror: { host: "ratings" } },
    ],
  });
  const [many, moved] = reviewsRoutes(vs);
  assert.deepEqual(many.route?.request_mirror_policies?.map((m) => [m.cluster, m.runtime_fraction?.default_value]), [
    ["outbound|9080||ratings.default.svc.cluster.local", { numerator: 100, denominator: "HUNDRED" }],
    [`outbound|9080|v3|${REVIEWS}`, { numerator: 250_000, denominator: "MILLION" }],
    ["outbound|9080||details.default.svc.cluster.local", { numerator: 100, denominator: "HUNDRED" }],
  ]);
  assert.equal(moved.route, undefined);
  assert.ok(moved.redirect);
});

test("a mirror to an unknown host or subset keeps the route and warns with the field", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [{ route: [{ destination: { host: "reviews", subset: "v1" } }], mirror: { host: "nowhere" }, mirrors: [{ destination: { host: "reviews", subset: "v9" } }] }],
  });
  const warnings: ConfigError[] = [];
  const [r] = reviewsRoutes(vs, undefined, warnings);
  assert.deepEqual(r.route?.request_mirror_policies?.map((m) => m.cluster), ["outbound|9080||nowhere.default.svc.cluster.local", `outbound|9080|v9|${REVIEWS}`]);
  assert.deepEqual(warnings.map((w) => w.field), ["spec.http[0].mirror.host", "spec.http[0].mirrors[0].destination.subset"]);
});

test("port: a match naming another port leaves no route in this port's virtual host", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { name: "other-port", match: [{ port: 9090 }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
      { name: "this-port", match: [{ port: 9080, uri: { prefix: "/p" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
      { name: "rest", route: [{ destination: { host: "reviews", subset: "v1" } }] },
    ],
  });
  assert.deepEqual(reviewsRoutes(vs).map((r) => r.name), ["this-port", "rest"]);
});

test("sourceLabels and sourceNamespace: the route exists only for matching proxies", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { name: "from-productpage", match: [{ sourceLabels: { app: "productpage" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
      { name: "from-test", match: [{ sourceNamespace: "test" }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
      { name: "rest", route: [{ destination: { host: "reviews", subset: "v1" } }] },
    ],
  });
  const [productpage, details] = bookinfoProxies();
  assert.deepEqual(reviewsRoutes(vs, productpage).map((r) => r.name), ["from-productpage", "rest"]);
  assert.deepEqual(reviewsRoutes(vs, details).map((r) => r.name), ["rest"]);
  const tester = proxy("tester", "127.10.1.40", { app: "productpage" }, { namespace: "test" });
  assert.deepEqual(reviewsRoutes(vs, tester).map((r) => r.name), ["from-productpage", "from-test", "rest"]);
});

test("gateways in a match: only 'mesh' applies to sidecars, and then sourceLabels are not looked at (Istio's sourceMatchHTTP)", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"], gateways: ["mesh", "bookinfo-gateway"],
    http: [
      { name: "gateway-only", match: [{ gateways: ["bookinfo-gateway"] }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
      { name: "mesh", match: [{ gateways: ["mesh"], sourceLabels: { app: "nobody" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    ],
  });
  assert.deepEqual(reviewsRoutes(vs).map((r) => r.name), ["mesh"]);
});

test("withoutHeaders string matches treat a missing header as empty; regex '*' means present", () => {
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [{
      match: [{ withoutHeaders: { "x-env": { exact: "prod" }, "x-any": { regex: "*" } }, headers: { "x-user": { regex: "*" } }, queryParams: { debug: { regex: "*" }, v: { regex: "[0-9]+" } }, scheme: { exact: "http" } }],
      route: [{ destination: { host: "reviews", subset: "v1" } }],
    }],
  });
  const [r] = reviewsRoutes(vs);
  assert.deepEqual(r.match, {
    prefix: "/",
    headers: [
      { name: "x-user", present_match: true },
      { name: "x-any", present_match: true, invert_match: true },
      { name: "x-env", string_match: { exact: "prod" }, invert_match: true, treat_missing_header_as_empty: true },
      { name: ":scheme", string_match: { exact: "http" } },
    ],
    query_parameters: [{ name: "debug", present_match: true }, { name: "v", string_match: { safe_regex: { regex: "[0-9]+" } } }],
  });
});
