import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoObjects, bookinfoProxies, proxy } from "../registry/fixtures.ts";
import { listenerView, listenerViewKey, translateListeners } from "./listeners.ts";
import { inputFor } from "./test-support.ts";
import { TYPE } from "../xds/envoy-types.ts";

test("sidecar: http_proxy on podIP:15001 with RDS, and one inbound listener per port", () => {
  const proxies = bookinfoProxies();
  const p = { ...proxies[3], ports: [{ name: "http", containerPort: 9080 }, { name: "metrics", containerPort: 9100 }] };
  const ls = translateListeners(inputFor(bookinfoObjects(), proxies, p));
  assert.deepEqual(ls.map((l) => l.name), ["http_proxy", "inbound|9080", "inbound|9100"]);
  const out = ls[0];
  assert.deepEqual(out.address, { socket_address: { address: "127.10.1.4", port_value: 15001 } });
  assert.equal(out.traffic_direction, "OUTBOUND");
  const hcm = out.filter_chains![0].filters[0].typed_config;
  assert.equal(hcm["@type"], TYPE.hcm);
  assert.deepEqual(hcm.rds, { route_config_name: "http_proxy", config_source: { ads: {}, resource_api_version: "V3" } });
  assert.deepEqual(hcm.http_filters.map((f) => f.name), ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"], "Istio's order: fault, cors, router");
  assert.equal(hcm.access_log?.[0].name, "envoy.access_loggers.file");

  const inbound = ls[1];
  assert.deepEqual(inbound.address, { socket_address: { address: "127.10.1.4", port_value: 9080 } });
  assert.equal(inbound.traffic_direction, "INBOUND");
  const ihcm = inbound.filter_chains![0].filters[0].typed_config;
  assert.equal(ihcm.rds, undefined);
  const vh = ihcm.route_config!.virtual_hosts[0];
  assert.equal(vh.name, "inbound|http|9080");
  assert.deepEqual(vh.domains, ["*"]);
  assert.deepEqual(vh.routes[0].match, { prefix: "/" });
  assert.deepEqual(vh.routes[0].route, { cluster: "inbound|9080||", timeout: { seconds: 0 } });
});

test("access log only when the mesh asks for it", () => {
  const p = proxy("a", "127.10.1.1", { app: "a" }, { ports: [{ name: "http", containerPort: 8080 }] });
  const input = { ...inputFor([], [p], p), mesh: { rootNamespace: "istio-system", domainSuffix: "cluster.local", accessLog: false } };
  for (const l of translateListeners(input)) assert.equal(l.filter_chains![0].filters[0].typed_config.access_log, undefined);
});

test("proxyless gRPC: an API listener per visible service port, router last", () => {
  const grpc = proxy("client", "127.10.1.9", { app: "client" }, { type: "grpc" });
  const ls = translateListeners(inputFor(bookinfoObjects(), [], grpc));
  assert.deepEqual(ls.map((l) => l.name), [
    "details.default.svc.cluster.local:9080",
    "productpage.default.svc.cluster.local:9080",
    "ratings.default.svc.cluster.local:9080",
    "reviews.default.svc.cluster.local:9080",
  ]);
  const l = ls[3];
  assert.equal(l.address, undefined);
  const hcm = l.api_listener!.api_listener;
  assert.equal(hcm.rds?.route_config_name, "reviews.default.svc.cluster.local:9080");
  assert.deepEqual(hcm.rds?.config_source, { ads: {}, resource_api_version: "V3" });
  assert.equal(hcm.http_filters.at(-1)?.typed_config["@type"], TYPE.router);
});

test("listener view: a sidecar's key is its addresses and ports; gRPC clients key on namespace only", () => {
  const a = proxy("a", "127.10.1.1", { app: "a" }, { ports: [{ name: "http", containerPort: 9080 }] });
  const b = { ...a, ip: "127.10.1.2", name: "b", labels: { app: "b" } };
  assert.notEqual(listenerViewKey(listenerView(a)), listenerViewKey(listenerView(b)));
  assert.equal(listenerViewKey(listenerView(a)), listenerViewKey(listenerView({ ...a, name: "renamed", labels: {} })));
  assert.deepEqual(listenerView(a), { type: "sidecar", ip: "127.10.1.1", appAddress: "127.10.2.1", ports: [{ containerPort: 9080, name: "http" }], namespace: "default", labels: {} });
  assert.deepEqual(listenerView(a, new Set(["app", "version"])).type === "sidecar" && listenerView(a, new Set(["app", "version"])), { ...listenerView(a), labels: { app: "a" } }, "only labels Telemetry selectors name");
  const g1 = proxy("g1", "127.10.1.8", {}, { type: "grpc" });
  const g2 = proxy("g2", "127.10.1.9", {}, { type: "grpc" });
  assert.equal(listenerViewKey(listenerView(g1)), listenerViewKey(listenerView(g2)));
  assert.notEqual(listenerViewKey(listenerView(g1)), listenerViewKey(listenerView({ ...g1, namespace: "other" })));
  const input = inputFor(bookinfoObjects(), [], a);
  assert.deepEqual(translateListeners({ ...input, proxy: listenerView(a) }), translateListeners(input));
});
