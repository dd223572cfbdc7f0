// Load-balancing settings through the wire: what a translator writes (ring hash, Maglev,
// locality weighting, priorities, hash policies) is encoded as Envoy's protos, decoded, and
// compiled by the proxy into its own form, or refused with the field and the fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE, type Cluster, type ClusterLoadAssignment, type HashPolicy, type Route } from "../../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../../xds/protos.ts";
import { compileCluster, compileEndpoints } from "./compile-cluster.ts";
import { compileRoute } from "./compile-route.ts";
import { ConfigInvalid } from "./string-match.ts";

function wire<T extends object>(type: string, r: T): T {
  return decodeResource(encodeResource(type, r)) as T;
}

const cluster = (extra: Partial<Cluster>): Cluster => wire(TYPE.cluster, { name: "c", type: "EDS", eds_cluster_config: { eds_config: { ads: {} } }, ...extra });

test("RING_HASH and MAGLEV clusters compile with their sizes, Envoy's defaults otherwise", () => {
  const ring = compileCluster(cluster({ lb_policy: "RING_HASH", ring_hash_lb_config: { minimum_ring_size: { value: 64 } } }));
  assert.equal(ring.lbPolicy, "RING_HASH");
  assert.equal(ring.lbConfig?.minRingSize, 64);
  assert.equal(ring.lbConfig?.maxRingSize, 8_388_608);
  const maglev = compileCluster(cluster({ lb_policy: "MAGLEV", maglev_lb_config: { table_size: { value: 251 } } }));
  assert.equal(maglev.lbPolicy, "MAGLEV");
  assert.equal(maglev.lbConfig?.tableSize, 251);
  assert.notEqual(maglev.lbConfig?.key, ring.lbConfig?.key);
  const plain = compileCluster(cluster({ lb_policy: "ROUND_ROBIN" }));
  assert.deepEqual({ ...plain.lbConfig, key: undefined }, { minRingSize: 1024, maxRingSize: 8_388_608, tableSize: 65537, localityWeighted: false, key: undefined });
  const lw = compileCluster(cluster({ common_lb_config: { healthy_panic_threshold: { value: 0 }, locality_weighted_lb_config: {} } }));
  assert.equal(lw.lbConfig?.localityWeighted, true);
});

test("impossible ring and table sizes are refused with the field and the fix", () => {
  const refuse = (c: Partial<Cluster>, field: RegExp, reason: RegExp) => assert.throws(() => compileCluster(cluster(c)), (e: unknown) => e instanceof ConfigInvalid && field.test(e.field) && reason.test(e.message));
  refuse({ lb_policy: "MAGLEV", maglev_lb_config: { table_size: { value: 65536 } } }, /maglev_lb_config\.table_size$/, /not a prime number.*65537/);
  refuse({ lb_policy: "RING_HASH", ring_hash_lb_config: { minimum_ring_size: { value: 100 }, maximum_ring_size: { value: 10 } } }, /ring_hash_lb_config$/, /larger than maximum_ring_size/);
  refuse({ lb_policy: "RING_HASH", ring_hash_lb_config: { minimum_ring_size: { value: 9_000_000 } } }, /minimum_ring_size$/, /from 1 to 8388608/);
  refuse({ lb_policy: "RING_HASH", ring_hash_lb_config: { hash_function: "MURMUR_HASH_2" } }, /hash_function$/, /XX_HASH/);
});

test("EDS priorities, localities and locality weights reach every endpoint", () => {
  const cla: ClusterLoadAssignment = wire(TYPE.endpoint, {
    cluster_name: "c",
    endpoints: [
      { locality: { region: "eu", zone: "eu-1" }, load_balancing_weight: { value: 70 }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 1 } } } }] },
      { locality: { region: "us" }, priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.2", port_value: 1 } } } }] },
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.3", port_value: 1 } } } }] },
    ],
  });
  const eps = compileEndpoints(cla, "cla");
  assert.deepEqual(eps.map((e) => [e.key, e.priority, e.locality, e.localityWeight]), [
    ["127.0.0.1:1", 0, "eu/eu-1/", 70],
    ["127.0.0.2:1", 1, "us//", undefined],
    ["127.0.0.3:1", 0, "", undefined],
  ]);
  assert.throws(() => compileEndpoints({ cluster_name: "c", endpoints: [{ priority: 129, lb_endpoints: [] }] }, "cla"), /cla\.endpoints\[0\]\.priority/);
});

function route(hash: HashPolicy[]): Route {
  return wire(TYPE.route, { name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "c", hash_policy: hash } }] }] }).virtual_hosts[0].routes[0];
}

test("route hash policies compile in order, with the cookie's ttl in seconds", () => {
  const r = compileRoute(route([
    { header: { header_name: "X-User" } },
    { cookie: { name: "sticky", ttl: { seconds: 90 }, path: "/shop" }, terminal: true },
    { connection_properties: { source_ip: true } },
    { query_parameter: { name: "shard" } },
    { cookie: { name: "session" } },
  ]), "route", undefined);
  assert.equal(r.action.kind, "route");
  if (r.action.kind !== "route") return;
  assert.deepEqual(r.action.hashPolicies, [
    { source: { kind: "header", name: "x-user" }, terminal: false },
    { source: { kind: "cookie", name: "sticky", path: "/shop", ttlSeconds: 90 }, terminal: true },
    { source: { kind: "source_ip" }, terminal: false },
    { source: { kind: "query_parameter", name: "shard" }, terminal: false },
    { source: { kind: "cookie", name: "session", path: "", ttlSeconds: undefined }, terminal: false },
  ]);
  const none = compileRoute(route([]), "route", undefined);
  assert.equal(none.action.kind === "route" ? none.action.hashPolicies : "?", undefined);
});

test("hash policies the proxy cannot evaluate are refused", () => {
  assert.throws(() => compileRoute(route([{ filter_state: { key: "k" } } as HashPolicy]), "route", undefined), /route\.route\.hash_policy\[0\]\.filter_state: .*not supported/);
  assert.throws(() => compileRoute(route([{ header: { header_name: "" } }]), "route", undefined), /hash_policy\[0\]/);
});
