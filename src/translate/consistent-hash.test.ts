// DestinationRule consistentHash -> RING_HASH / MAGLEV clusters and the hash_policy of the
// routes that go to them, as Istio's pilot builds them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoObjects, bookinfoProxies, cfg, proxy } from "../registry/fixtures.ts";
import type { ConfigError } from "../api/types.ts";
import type { Cluster, Route } from "../xds/envoy-types.ts";
import { translateClusters } from "./clusters.ts";
import { translateRoutes } from "./routes.ts";
import { inputFor, virtualHostNamed } from "./test-support.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const VH = `${REVIEWS}:9080`;

function rule(trafficPolicy: Record<string, unknown>, subsets: Record<string, unknown>[] = []) {
  return cfg("DestinationRule", "reviews", { host: REVIEWS, trafficPolicy, subsets });
}

function translate(extra: ReturnType<typeof cfg>[], who = bookinfoProxies()[0]) {
  const proxies = bookinfoProxies();
  const warnings: ConfigError[] = [];
  const input = inputFor([...bookinfoObjects(), ...extra], proxies, who);
  const clusters = translateClusters(input, warnings);
  const [rc] = translateRoutes(input, warnings);
  const cluster = (name: string): Cluster => {
    const c = clusters.find((x) => x.name === name);
    assert.ok(c, `no cluster ${name}`);
    return c;
  };
  return { cluster, routes: (vh = VH): Route[] => virtualHostNamed(rc, vh).routes, warnings, rc };
}

test("consistentHash picks the ring or Maglev on the cluster, with Istio's sizes", () => {
  const header = { httpHeaderName: "x-user" };
  const c = (ch: Record<string, unknown>) => translate([rule({ loadBalancer: { consistentHash: { ...header, ...ch } } })]).cluster(`outbound|9080||${REVIEWS}`);
  const plain = c({});
  assert.equal(plain.lb_policy, "RING_HASH");
  assert.deepEqual(plain.ring_hash_lb_config, { minimum_ring_size: { value: 1024 } }, "neither ringHash nor maglev: a ring of 1024");
  assert.deepEqual(c({ minimumRingSize: 2048 }).ring_hash_lb_config, { minimum_ring_size: { value: 2048 } }, "the deprecated field still counts");
  const ring = c({ ringHash: { minimumRingSize: 64 } });
  assert.equal(ring.lb_policy, "RING_HASH");
  assert.deepEqual(ring.ring_hash_lb_config, { minimum_ring_size: { value: 64 } });
  assert.equal(c({ ringHash: {} }).ring_hash_lb_config, undefined, "ringHash without a size: Envoy's defaults");
  const maglev = c({ maglev: { tableSize: 1009 } });
  assert.equal(maglev.lb_policy, "MAGLEV");
  assert.deepEqual(maglev.maglev_lb_config, { table_size: { value: 1009 } });
  assert.equal(maglev.ring_hash_lb_config, undefined);
  assert.equal(c({ maglev: {} }).maglev_lb_config, undefined);
});

test("a service without a VirtualService: its default route hashes by the rule's key", () => {
  const hashOf = (ch: Record<string, unknown>) => translate([rule({ loadBalancer: { consistentHash: ch } })]).routes()[0].route?.hash_policy;
  assert.deepEqual(hashOf({ httpHeaderName: "x-user" }), [{ header: { header_name: "x-user" } }]);
  assert.deepEqual(hashOf({ httpCookie: { name: "sticky", path: "/", ttl: "60s" } }), [{ cookie: { name: "sticky", ttl: { seconds: 60 }, path: "/" } }]);
  assert.deepEqual(hashOf({ httpCookie: { name: "session" } }), [{ cookie: { name: "session" } }]);
  assert.deepEqual(hashOf({ useSourceIp: true }), [{ connection_properties: { source_ip: true } }]);
  assert.deepEqual(hashOf({ httpQueryParameterName: "shard" }), [{ query_parameter: { name: "shard" } }]);
  assert.equal(hashOf({ ringHash: {} }), undefined, "no key: the ring picks at random");
  // Istio keeps the default route's retry policy as it is (previous_hosts included).
  const r = translate([rule({ loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } })]).routes()[0];
  assert.deepEqual(r.route?.retry_policy?.retry_host_predicate, [{ name: "envoy.retry_host_predicates.previous_hosts" }]);
  assert.equal(translate([]).routes()[0].route?.hash_policy, undefined, "no DestinationRule: no hash");
});

test("a port-level consistentHash wins for its port", () => {
  const t = translate([rule({
    loadBalancer: { consistentHash: { httpHeaderName: "x-top" } },
    portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { consistentHash: { httpHeaderName: "x-port" } } }],
  })]);
  assert.deepEqual(t.routes()[0].route?.hash_policy, [{ header: { header_name: "x-port" } }]);
  assert.equal(t.cluster(`outbound|9080||${REVIEWS}`).lb_policy, "RING_HASH");
});

test("VirtualService destinations: the subset's consistentHash first; one hash entry per weighted destination; retries stay on the hashed host", () => {
  const dr = rule({ loadBalancer: { consistentHash: { httpHeaderName: "x-top" } } }, [
    { name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: "v1-session", ttl: "0s" } } } } },
    { name: "v2", labels: { version: "v2" } },
    { name: "v3", labels: { version: "v3" }, trafficPolicy: { loadBalancer: { simple: "RANDOM" } } },
  ]);
  const vs = cfg("VirtualService", "reviews", {
    hosts: ["reviews"],
    http: [
      { match: [{ headers: { end: { exact: "single" } } }], route: [{ destination: { host: "reviews", subset: "v1" } }] },
      { match: [{ headers: { end: { exact: "split" } } }], route: [{ destination: { host: "reviews", subset: "v1" }, weight: 50 }, { destination: { host: "reviews", subset: "v2" }, weight: 50 }] },
      { route: [{ destination: { host: "reviews", subset: "v3" } }] },
    ],
  });
  const t = translate([dr, vs]);
  const [single, split, last] = t.routes();
  assert.deepEqual(single.route?.hash_policy, [{ cookie: { name: "v1-session", ttl: { seconds: 0 } } }]);
  assert.equal(single.route?.retry_policy?.retry_host_predicate, undefined, "Istio drops previous_hosts on a consistent-hash route");
  assert.equal(single.route?.retry_policy?.num_retries?.value, 2);
  assert.deepEqual(split.route?.hash_policy, [{ cookie: { name: "v1-session", ttl: { seconds: 0 } } }, { header: { header_name: "x-top" } }]);
  assert.ok(split.route?.retry_policy?.retry_host_predicate, "weighted routes keep previous_hosts");
  // v3's own policy has no consistentHash, so the top level's still hashes its routes (pilot does the same).
  assert.deepEqual(last.route?.hash_policy, [{ header: { header_name: "x-top" } }]);
  assert.equal(t.cluster(`outbound|9080|v1|${REVIEWS}`).lb_policy, "RING_HASH");
  assert.equal(t.cluster(`outbound|9080|v3|${REVIEWS}`).lb_policy, "RANDOM");
  assert.equal(t.cluster(`outbound|9080|v3|${REVIEWS}`).ring_hash_lb_config, undefined);
});

test("proxyless gRPC clients get neither hash policies nor hash clusters (with a warning)", () => {
  const grpcClient = proxy("client", "127.10.1.9", { app: "client" }, { type: "grpc" });
  const t = translate([rule({ loadBalancer: { consistentHash: { httpHeaderName: "x-user", maglev: { tableSize: 1009 } } } })], grpcClient);
  const c = t.cluster(`outbound|9080||${REVIEWS}`);
  assert.equal(c.lb_policy, "ROUND_ROBIN");
  assert.equal(c.maglev_lb_config, undefined);
  assert.match(t.warnings.map((w) => w.message).join("\n"), /support only ROUND_ROBIN; MAGLEV is replaced/);
  const rc = translateRoutes(inputFor([...bookinfoObjects(), rule({ loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } })], bookinfoProxies(), grpcClient)).find((r) => r.name === VH);
  assert.equal(rc?.virtual_hosts[0].routes[0].route?.hash_policy, undefined);
});

test("sizes the proxy would refuse are left out with a warning, so the rest of the update still applies", () => {
  const t = translate([rule({ loadBalancer: { consistentHash: { httpHeaderName: "x-user", maglev: { tableSize: 65536 } } } })]);
  const c = t.cluster(`outbound|9080||${REVIEWS}`);
  assert.equal(c.lb_policy, "MAGLEV");
  assert.equal(c.maglev_lb_config, undefined, "Envoy's default table instead");
  assert.match(t.warnings.map((w) => `${w.field}: ${w.message}`).join("\n"), /consistentHash: maglev\.tableSize 65536 must be a prime number/);
  const big = translate([rule({ loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 10_000_000 } } })]);
  assert.deepEqual(big.cluster(`outbound|9080||${REVIEWS}`).ring_hash_lb_config, { minimum_ring_size: { value: 8_388_608 } });
  assert.equal(translate([rule({ loadBalancer: { consistentHash: { httpCookie: { name: "" } } } })]).routes()[0].route?.hash_policy, undefined, "a cookie without a name hashes nothing");
});
