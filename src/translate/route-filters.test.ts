import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../api/types.ts";
import { bookinfoObjects, bookinfoProxies, cfg, proxy } from "../registry/fixtures.ts";
import { TYPE } from "../xds/envoy-types.ts";
import type { Route } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { translateRoutes } from "./routes.ts";
import { translateListeners } from "./listeners.ts";
import { CORS_FILTER, CORS_POLICY_TYPE, CORS_TYPE, FAULT_FILTER, FAULT_TYPE } from "./route-filters.ts";
import { inputFor, virtualHostNamed } from "./test-support.ts";

const RATINGS = "ratings.default.svc.cluster.local";

function ratingsRoutes(http: unknown[], warnings?: ConfigError[]): { routes: Route[]; rc: ReturnType<typeof translateRoutes>[number] } {
  const proxies = bookinfoProxies();
  const vs = cfg("VirtualService", "ratings", { hosts: ["ratings"], http });
  const [rc] = translateRoutes(inputFor([...bookinfoObjects(), vs], proxies, proxies[0]), warnings);
  return { routes: virtualHostNamed(rc, `${RATINGS}:9080`).routes, rc };
}

const toRatings = [{ destination: { host: "ratings" } }];

test("fault: delay and abort become an HTTPFault per route, percentages per million (Istio's value * 10000)", () => {
  const { routes, rc } = ratingsRoutes([
    { name: "faulty", fault: { delay: { fixedDelay: "7s", percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 0.5 } } }, route: toRatings },
  ]);
  assert.deepEqual(routes[0].typed_per_filter_config, {
    [FAULT_FILTER]: {
      "@type": FAULT_TYPE,
      delay: { fixed_delay: { seconds: 7 }, percentage: { numerator: 100_000, denominator: "MILLION" } },
      abort: { http_status: 503, percentage: { numerator: 5_000, denominator: "MILLION" } },
    },
  });
  // Envoy's own schema accepts it, and it survives the wire.
  const back = decodeResource(encodeResource(TYPE.route, rc));
  const route = back.virtual_hosts.find((v: { name: string }) => v.name === `${RATINGS}:9080`).routes[0];
  assert.deepEqual(route.typed_per_filter_config[FAULT_FILTER].abort, { http_status: 503, percentage: { numerator: 5000, denominator: "MILLION" } });
  assert.deepEqual(route.typed_per_filter_config[FAULT_FILTER].delay.fixed_delay, { seconds: 7 });
});

test("fault: deprecated integer percent, gRPC status names, and what cannot be translated is warned about", () => {
  const warnings: ConfigError[] = [];
  const { routes } = ratingsRoutes([
    { name: "legacy", match: [{ uri: { prefix: "/legacy" } }], fault: { delay: { fixedDelay: "250ms", percent: 30 } }, route: toRatings },
    { name: "grpc", match: [{ uri: { prefix: "/grpc" } }], fault: { abort: { grpcStatus: "UNAVAILABLE", percentage: { value: 100 } } }, route: toRatings },
    { name: "bad", match: [{ uri: { prefix: "/bad" } }], fault: { abort: { grpcStatus: "NOT_A_CODE" } }, route: toRatings },
    { name: "none", match: [{ uri: { prefix: "/none" } }], fault: { delay: { fixedDelay: "1s" } }, route: toRatings },
  ], warnings);
  const byName = new Map(routes.map((r) => [r.name, r.typed_per_filter_config?.[FAULT_FILTER]]));
  assert.deepEqual(byName.get("legacy"), { "@type": FAULT_TYPE, delay: { fixed_delay: { seconds: 0, nanos: 250_000_000 }, percentage: { numerator: 300_000, denominator: "MILLION" } } });
  assert.deepEqual(byName.get("grpc"), { "@type": FAULT_TYPE, abort: { grpc_status: 14, percentage: { numerator: 1_000_000, denominator: "MILLION" } } });
  assert.equal(byName.get("bad"), undefined, "an abort with an unknown code is left out");
  assert.ok(warnings.some((w) => w.message.includes("NOT_A_CODE") && w.message.includes("UNAVAILABLE")), JSON.stringify(warnings));
  // No percentage at all: Istio's rule is that no request is delayed.
  assert.deepEqual(byName.get("none"), { "@type": FAULT_TYPE, delay: { fixed_delay: { seconds: 1 }, percentage: { numerator: 0, denominator: "MILLION" } } });
});

test("corsPolicy becomes a cors.v3.CorsPolicy per route, as Istio writes it", () => {
  const { routes, rc } = ratingsRoutes([
    {
      name: "cors",
      corsPolicy: {
        allowOrigins: [{ exact: "https://example.com" }, { prefix: "https://app." }, { regex: "https://.*\\.example\\.org" }],
        allowMethods: ["POST", "GET"],
        allowHeaders: ["X-Foo-Bar", "content-type"],
        exposeHeaders: ["X-Expose"],
        maxAge: "24h",
        allowCredentials: false,
      },
      route: toRatings,
    },
    { name: "ignore", match: [{ uri: { prefix: "/i" } }], corsPolicy: { allowOrigins: [{ exact: "https://x" }], unmatchedPreflights: "IGNORE" }, route: toRatings },
  ]);
  const cors = (name: string) => routes.find((r) => r.name === name)?.typed_per_filter_config?.[CORS_FILTER];
  assert.deepEqual(cors("cors"), {
    "@type": CORS_POLICY_TYPE,
    allow_origin_string_match: [{ exact: "https://example.com" }, { prefix: "https://app." }, { safe_regex: { regex: "https://.*\\.example\\.org" } }],
    filter_enabled: { default_value: { numerator: 100, denominator: "HUNDRED" } },
    forward_not_matching_preflights: { value: true },
    allow_methods: "POST,GET",
    allow_headers: "X-Foo-Bar,content-type",
    expose_headers: "X-Expose",
    max_age: "86400",
    allow_credentials: { value: false },
  });
  assert.deepEqual(cors("ignore")?.forward_not_matching_preflights, { value: false }, "unmatchedPreflights: IGNORE answers them at the proxy");
  assert.doesNotThrow(() => encodeResource(TYPE.route, rc));
});

test("a rule without fault or corsPolicy gets no per-filter config", () => {
  const { routes } = ratingsRoutes([{ name: "plain", route: toRatings }]);
  assert.equal(routes[0].typed_per_filter_config, undefined);
});

test("sidecar outbound listener lists fault and cors (empty configs) before the router; it encodes", () => {
  const proxies = bookinfoProxies();
  const [outbound] = translateListeners(inputFor(bookinfoObjects(), proxies, proxies[0]));
  const hcm = outbound.filter_chains![0].filters[0].typed_config;
  assert.deepEqual(hcm.http_filters, [
    { name: FAULT_FILTER, typed_config: { "@type": FAULT_TYPE } },
    { name: CORS_FILTER, typed_config: { "@type": CORS_TYPE } },
    { name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } },
  ]);
  assert.doesNotThrow(() => encodeResource(TYPE.listener, outbound));
});

test("proxyless gRPC clients get neither config (their listeners run only the router), with a warning", () => {
  const client = proxy("client", "127.10.1.50", { app: "client" }, { type: "grpc" });
  const proxies = [...bookinfoProxies(), client];
  const vs = cfg("VirtualService", "ratings", { hosts: ["ratings"], http: [{ fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: toRatings }] });
  const warnings: ConfigError[] = [];
  const rcs = translateRoutes(inputFor([...bookinfoObjects(), vs], proxies, client), warnings);
  const rc = rcs.find((r) => r.name === `${RATINGS}:9080`);
  assert.ok(rc);
  assert.equal(rc.virtual_hosts[0].routes[0].typed_per_filter_config, undefined);
  assert.ok(warnings.some((w) => w.message.includes("proxyless gRPC")));
});
