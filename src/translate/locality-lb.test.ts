// Istio's locality load balancing in EDS (priorities and weights relative to the proxy's own
// locality) and CDS (locality_weighted_lb_config), and the proxy view EDS is shared by.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, proxy, workloadEntry } from "../registry/fixtures.ts";
import { buildRegistry } from "../registry/build.ts";
import type { ConfigObject } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { endpointView, endpointViewKey, failoverPriorityKeys, translateEndpoints } from "./endpoints.ts";
import { translateClusters } from "./clusters.ts";
import { inputFor } from "./test-support.ts";

const HOST = "api.internal";
const REGION = "topology.kubernetes.io/region";
const ZONE = "topology.kubernetes.io/zone";

const entry = cfg("ServiceEntry", "api", { hosts: [HOST], ports: [{ number: 80, name: "http" }], resolution: "STATIC", location: "MESH_INTERNAL", workloadSelector: { labels: { app: "api" } } });
const workloads = [
  workloadEntry("east-a", "127.20.0.1", { app: "api", tier: "gold" }, { locality: "us-east/zone-a" }),
  workloadEntry("east-b", "127.20.0.2", { app: "api", tier: "silver" }, { locality: "us-east/zone-b" }),
  // Locality from the topology labels, as on a Kubernetes node.
  workloadEntry("west-a", "127.20.0.3", { app: "api", tier: "gold", [REGION]: "us-west", [ZONE]: "zone-a" }),
  workloadEntry("eu-x", "127.20.0.4", { app: "api", tier: "gold" }, { locality: "eu/zone-x" }),
];

const client = (labels: Record<string, string> = { [REGION]: "us-east", [ZONE]: "zone-a" }): ProxyNode => proxy("client", "127.20.1.1", { app: "client", ...labels });

function policy(trafficPolicy: Record<string, unknown>): ConfigObject {
  return cfg("DestinationRule", "api", { host: HOST, trafficPolicy });
}

/** address -> [priority, locality weight, endpoint count of its group] */
function assignment(objects: ConfigObject[], who = client()) {
  const input = inputFor([entry, ...workloads, ...objects], [who], who);
  const [cla] = translateEndpoints(input);
  const out: Record<string, [number, number | undefined]> = {};
  for (const g of cla.endpoints) for (const e of g.lb_endpoints) out[e.endpoint.address.socket_address.address] = [g.priority ?? 0, g.load_balancing_weight?.value];
  const emptied = cla.endpoints.filter((g) => g.lb_endpoints.length === 0).map((g) => `${g.locality?.region}/${g.locality?.zone}`);
  const cluster = translateClusters(input).find((c) => c.name === `outbound|80||${HOST}`)!;
  return { out, emptied, cluster };
}

const OD = { consecutive5xxErrors: 1, interval: "1s", baseEjectionTime: "30s" };

test("an endpoint's locality comes from its WorkloadEntry, else from its topology labels", () => {
  const eps = buildRegistry([entry, ...workloads], []).endpoints.get(`${HOST}:80`)!;
  assert.deepEqual(eps.map((e) => [e.address, e.locality]), [["127.20.0.1", "us-east/zone-a"], ["127.20.0.2", "us-east/zone-b"], ["127.20.0.3", "us-west/zone-a"], ["127.20.0.4", "eu/zone-x"]]);
});

test("without outlier detection there are no priorities (Envoy could never fail over)", () => {
  const { out, cluster } = assignment([policy({ loadBalancer: { localityLbSetting: { failover: [{ from: "us-east", to: "eu" }] } } })]);
  assert.deepEqual(Object.values(out).map(([p]) => p), [0, 0, 0, 0]);
  assert.equal(cluster.common_lb_config?.locality_weighted_lb_config, undefined);
});

test("outlier detection alone: Istio's default failover by locality (same zone, same region, elsewhere)", () => {
  const { out, cluster } = assignment([policy({ outlierDetection: OD })]);
  assert.deepEqual(out["127.20.0.1"][0], 0);
  assert.deepEqual(out["127.20.0.2"][0], 1, "same region, other zone");
  assert.deepEqual([out["127.20.0.3"][0], out["127.20.0.4"][0]], [2, 2], "other regions, renumbered without gaps");
  assert.equal(cluster.common_lb_config?.locality_weighted_lb_config, undefined, "no failover rules: no locality weighting");
});

test("failover rules put the named region before other regions", () => {
  const { out, cluster } = assignment([policy({ outlierDetection: OD, loadBalancer: { localityLbSetting: { failover: [{ from: "us-east", to: "eu" }] } } })]);
  assert.deepEqual(["127.20.0.1", "127.20.0.2", "127.20.0.4", "127.20.0.3"].map((a) => out[a][0]), [0, 1, 2, 3]);
  assert.deepEqual(cluster.common_lb_config?.locality_weighted_lb_config, {});
  // A client in another region is not affected by a rule for us-east.
  const west = assignment([policy({ outlierDetection: OD, loadBalancer: { localityLbSetting: { failover: [{ from: "us-east", to: "eu" }] } } })], client({ [REGION]: "us-west", [ZONE]: "zone-a" })).out;
  assert.deepEqual(["127.20.0.3", "127.20.0.1", "127.20.0.2", "127.20.0.4"].map((a) => west[a][0]), [0, 1, 1, 1]);
});

test("distribute sets locality weights for the matching client and empties the localities it leaves out", () => {
  const setting = { localityLbSetting: { distribute: [{ from: "us-east/zone-a/*", to: { "us-east/zone-a/*": 80, "us-west/*": 20 } }] } };
  const { out, emptied, cluster } = assignment([policy({ loadBalancer: setting })]);
  assert.deepEqual(out["127.20.0.1"], [0, 80]);
  assert.deepEqual(out["127.20.0.3"], [0, 20]);
  assert.equal(out["127.20.0.2"], undefined);
  assert.deepEqual(emptied.sort(), ["eu/zone-x", "us-east/zone-b"]);
  assert.deepEqual(cluster.common_lb_config?.locality_weighted_lb_config, {}, "distribute needs no outlier detection");
  const elsewhere = assignment([policy({ loadBalancer: setting })], client({ [REGION]: "eu", [ZONE]: "zone-x" }));
  assert.deepEqual(elsewhere.emptied, [], "a client the rule does not name sees every locality");
});

test("a wildcard destination shares its weight among the localities it matches, by their own weight", () => {
  const setting = { localityLbSetting: { distribute: [{ from: "*", to: { "us-east/*": 90, "*": 10 } }] } };
  const { out } = assignment([policy({ loadBalancer: setting })]);
  assert.deepEqual([out["127.20.0.1"][1], out["127.20.0.2"][1], out["127.20.0.3"][1], out["127.20.0.4"][1]], [45, 45, 5, 5]);
});

test("failoverPriority orders endpoints by how many of the listed labels match the client's", () => {
  const setting = { outlierDetection: OD, loadBalancer: { localityLbSetting: { failoverPriority: [REGION, "tier"] } } };
  const { out, cluster } = assignment([policy(setting)], client({ [REGION]: "us-east", tier: "gold" }));
  // east-a: region and tier match (0); east-b: region only (1); west-a, eu-x: neither (2).
  assert.deepEqual(["127.20.0.1", "127.20.0.2", "127.20.0.3", "127.20.0.4"].map((a) => out[a][0]), [0, 1, 2, 2]);
  assert.deepEqual(cluster.common_lb_config?.locality_weighted_lb_config, {});
  // "label=value" compares with the value given instead of the client's own.
  const fixed = assignment([policy({ outlierDetection: OD, loadBalancer: { localityLbSetting: { failoverPriority: [`${REGION}=eu`] } } })]).out;
  assert.deepEqual(["127.20.0.4", "127.20.0.1"].map((a) => fixed[a][0]), [0, 1]);
});

test("enabled: false turns locality load balancing off, outlier detection or not", () => {
  const { out } = assignment([policy({ outlierDetection: OD, loadBalancer: { localityLbSetting: { enabled: false, failover: [{ from: "us-east", to: "eu" }] } } })]);
  assert.deepEqual(Object.values(out).map(([p]) => p), [0, 0, 0, 0]);
});

test("the EDS view: proxies in one place share assignments; their locality and failoverPriority labels tell them apart", () => {
  const objects = [policy({ outlierDetection: OD, loadBalancer: { localityLbSetting: { failoverPriority: ["tier"] } } })];
  const keys = failoverPriorityKeys(objects);
  assert.deepEqual([...keys], ["tier"]);
  const a = endpointView({ ...client(), labels: { ...client().labels, pod: "a-1", tier: "gold" } }, keys);
  const b = endpointView({ ...client(), labels: { ...client().labels, pod: "a-2", tier: "gold" } }, keys);
  assert.equal(endpointViewKey(a), endpointViewKey(b), "labels nothing reads do not split the view");
  assert.notEqual(endpointViewKey(endpointView({ ...client(), labels: { ...client().labels, tier: "silver" } }, keys)), endpointViewKey(a));
  assert.notEqual(endpointViewKey(endpointView(client({ [REGION]: "eu" }), keys)), endpointViewKey(a));
  // The narrowed view translates exactly like the whole node.
  const input = inputFor([entry, ...workloads, ...objects], [], client());
  assert.deepEqual(translateEndpoints({ ...input, proxy: a }), translateEndpoints({ ...input, proxy: { ...client(), labels: { ...client().labels, pod: "a-1", tier: "gold" } } }));
});
