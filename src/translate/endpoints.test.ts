import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoObjects, bookinfoProxies, cfg, proxy, workloadEntry } from "../registry/fixtures.ts";
import { translateEndpoints } from "./endpoints.ts";
import { translateClusters } from "./clusters.ts";
import { inputFor } from "./test-support.ts";

const reviewsDR = cfg("DestinationRule", "reviews", {
  host: "reviews.default.svc.cluster.local",
  subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }],
});

test("one assignment per EDS cluster; subsets filter by labels", () => {
  const proxies = bookinfoProxies();
  const input = inputFor([...bookinfoObjects(), reviewsDR], proxies, proxies[0]);
  const cla = translateEndpoints(input);
  const edsClusters = translateClusters(input).filter((c) => c.type === "EDS").map((c) => c.name);
  assert.deepEqual(cla.map((c) => c.cluster_name), edsClusters);
  const addrs = (name: string) => cla.find((c) => c.cluster_name === name)!.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address));
  assert.deepEqual(addrs("outbound|9080||reviews.default.svc.cluster.local"), ["127.10.1.4", "127.10.1.5", "127.10.1.6"]);
  assert.deepEqual(addrs("outbound|9080|v2|reviews.default.svc.cluster.local"), ["127.10.1.5"]);
  const one = cla.find((c) => c.cluster_name === "outbound|9080|v1|reviews.default.svc.cluster.local")!.endpoints[0].lb_endpoints[0];
  assert.equal(one.health_status, "HEALTHY");
  assert.deepEqual(one.load_balancing_weight, { value: 1 });
  assert.deepEqual(one.endpoint.address.socket_address, { address: "127.10.1.4", port_value: 9080 });
});

test("localities split region/zone/sub_zone; weights carried", () => {
  const objs = [
    cfg("ServiceEntry", "vm", { hosts: ["vm.internal"], ports: [{ number: 80, name: "http" }], resolution: "STATIC", location: "MESH_INTERNAL", workloadSelector: { labels: { app: "vm" } } }),
    workloadEntry("vm-a", "127.10.3.1", { app: "vm" }, { locality: "us-east/zone-a/rack-1", weight: 4 }),
    workloadEntry("vm-b", "127.10.3.2", { app: "vm" }, { locality: "us-west" }),
    workloadEntry("vm-c", "127.10.3.3", { app: "vm" }),
  ];
  const p = proxy("a", "127.10.1.1", { app: "a" });
  const [cla] = translateEndpoints(inputFor(objs, [p], p));
  assert.equal(cla.cluster_name, "outbound|80||vm.internal");
  assert.deepEqual(cla.endpoints.map((l) => l.locality), [{}, { region: "us-east", zone: "zone-a", sub_zone: "rack-1" }, { region: "us-west" }]);
  assert.deepEqual(cla.endpoints[1].lb_endpoints[0].load_balancing_weight, { value: 4 });
  assert.deepEqual(cla.endpoints[1].load_balancing_weight, { value: 4 });
});
