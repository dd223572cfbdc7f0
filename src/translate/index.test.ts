import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../api/types.ts";
import { bookinfoObjects, bookinfoProxies, cfg, proxy } from "../registry/fixtures.ts";
import { translate } from "./index.ts";
import { inputFor } from "./test-support.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const config = () => [
  ...bookinfoObjects(),
  cfg("DestinationRule", "reviews", { host: "reviews", subsets: ["v1", "v2", "v3"].map((v) => ({ name: v, labels: { version: v } })) }),
  cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { name: "jason", match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
      { name: "split", route: [{ destination: { host: "reviews", subset: "v1" }, weight: 50 }, { destination: { host: "reviews", subset: "v3" }, weight: 50 }] },
    ],
  }),
];

function assertSorted(names: string[]) {
  assert.deepEqual(names, [...names].sort());
}

test("determinism: translating twice (and from shuffled input) gives equal, sorted output", () => {
  const proxies = bookinfoProxies();
  const a = translate(inputFor(config(), proxies, proxies[0]));
  const b = translate(inputFor(config(), proxies, proxies[0]));
  const c = translate(inputFor([...config()].reverse(), [...proxies].reverse(), proxies[0]));
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assertSorted(a.listeners.map((x) => x.name));
  assertSorted(a.routes.map((x) => x.name));
  assertSorted(a.clusters.map((x) => x.name));
  assertSorted(a.endpoints.map((x) => x.cluster_name));
  assertSorted(a.routes[0].virtual_hosts.map((v) => v.name));
});

test("every route's cluster exists in CDS and every EDS cluster has an assignment", () => {
  const proxies = bookinfoProxies();
  const r = translate(inputFor(config(), proxies, proxies[0]));
  const clusters = new Set(r.clusters.map((c) => c.name));
  for (const vh of r.routes[0].virtual_hosts) {
    for (const route of vh.routes) {
      const names = route.route?.cluster ? [route.route.cluster] : route.route?.weighted_clusters?.clusters.map((w) => w.name) ?? [];
      for (const n of names) assert.ok(clusters.has(n), n);
    }
  }
  const eds = r.clusters.filter((c) => c.type === "EDS").map((c) => c.name);
  assert.deepEqual(r.endpoints.map((e) => e.cluster_name), eds);
});

test("proxyless gRPC: route configs named like the listeners, same route builder", () => {
  const grpc = proxy("client", "127.10.1.9", { app: "client" }, { type: "grpc" });
  const warnings: ConfigError[] = [];
  const objs = [
    ...config(),
    cfg("VirtualService", "details", { hosts: ["details"], http: [
      { match: [{ uri: { prefix: "/old" } }], redirect: { uri: "/new" } },
      { match: [{ queryParams: { a: { exact: "1" } } }], route: [{ destination: { host: "details" } }] },
      { route: [{ destination: { host: "details" } }], retries: { attempts: 0 }, timeout: "2s" },
    ] }),
  ];
  const r = translate(inputFor(objs, [], grpc), warnings);
  assert.deepEqual(r.routes.map((x) => x.name), r.listeners.map((x) => x.name));
  const rc = r.routes.find((x) => x.name === `${REVIEWS}:9080`)!;
  assert.equal(rc.virtual_hosts.length, 1);
  assert.deepEqual(rc.virtual_hosts[0].domains, [
    `${REVIEWS}:9080`, "reviews:9080", "reviews.default:9080", "reviews.default.svc:9080",
    REVIEWS, "reviews", "reviews.default", "reviews.default.svc",
  ]);
  // Which route a call takes: test/simulation/grpc.test.ts.
  const [jason, split, ...rest] = rc.virtual_hosts[0].routes;
  assert.equal(rest.length, 0);
  assert.deepEqual(jason.match.headers, [{ name: "end-user", string_match: { exact: "jason" } }]);
  assert.equal(jason.route?.cluster, `outbound|9080|v2|${REVIEWS}`);
  assert.deepEqual(split.route?.weighted_clusters?.clusters.map((c) => c.name), [`outbound|9080|v1|${REVIEWS}`, `outbound|9080|v3|${REVIEWS}`]);
  // Redirects and query matches are left out for gRPC (grpc-js rejects or cannot use them).
  const details = r.routes.find((x) => x.name === "details.default.svc.cluster.local:9080")!.virtual_hosts[0].routes;
  assert.equal(details.length, 1);
  assert.equal(details[0].route?.retry_policy, undefined);
  assert.deepEqual(details[0].route?.max_stream_duration, { max_stream_duration: { seconds: 2 } });
  assert.deepEqual(warnings.map((w) => w.field), ["spec.http[0]", "spec.http[1].match"]);
  assert.equal(r.clusters.filter((c) => c.name.startsWith("inbound")).length, 0);
  assert.ok(r.clusters.every((c) => c.type === "EDS"));
});

test("bad shapes never throw", () => {
  const p = proxy("a", "127.10.1.1", { app: "a" }, { ports: [{ name: "http", containerPort: 8080 }] });
  const junk = [
    cfg("Service", "s", { ports: "nope", selector: 3 }),
    cfg("Service", "t", { ports: [{ port: 80, targetPort: {} }] }),
    cfg("ServiceEntry", "e", { hosts: [1, "x.example"], ports: [{ number: "80" }, { name: "no-number" }], endpoints: [{}, { address: "127.0.0.9" }] }),
    cfg("DestinationRule", "d", { host: 5, subsets: "x", trafficPolicy: [] }),
    cfg("VirtualService", "v", { hosts: ["x.example"], http: [{ match: "m", route: [{ destination: {} }, { weight: 5 }] }, null, { route: "r" }] }),
    cfg("WorkloadEntry", "w", { labels: { a: 1 } }),
  ];
  const r = translate(inputFor(junk, [p], p), []);
  assert.ok(r.clusters.some((c) => c.name === "outbound|80||x.example"));
});
