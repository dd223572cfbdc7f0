import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeFromEnvoy, nodeToEnvoy, parseIstioId, readEnvoyNode } from "./node-codec.ts";
import { fromStruct, toStruct } from "./struct.ts";
import { testNode } from "./ads-test-kit.ts";
import { encodeRequest, decodeRequest } from "./ads-service.ts";

test("toStruct / fromStruct round-trip nested JSON", () => {
  const json = { s: "x", n: 1.5, b: false, nil: null, list: [1, "two", { three: 3 }], obj: { deep: { er: true } } };
  const struct = toStruct(json);
  assert.deepEqual(struct.fields?.s, { string_value: "x" });
  assert.deepEqual(struct.fields?.nil, { null_value: "NULL_VALUE" });
  assert.deepEqual(fromStruct(struct), json);
  assert.deepEqual(fromStruct(undefined), {});
  assert.deepEqual(fromStruct({ fields: { odd: {} } }), { odd: null });
});

test("our node survives nodeToEnvoy -> wire -> nodeFromEnvoy", () => {
  const node = testNode("reviews-v1", { labels: { app: "reviews", version: "v1" }, autoRegister: true, proxyVersion: "mizzen-0.1.0" });
  const wire = decodeRequest(encodeRequest({ node: nodeToEnvoy(node) as Record<string, unknown>, type_url: "t" }));
  assert.deepEqual(nodeFromEnvoy(wire.node), node);
});

test("health reporting rides in metadata as MIZZEN_HEALTH_REPORTING and is absent when off", () => {
  const node = testNode("web", { autoRegister: true, healthReporting: true, proxyVersion: "mizzen-0.1.0" });
  const envoy = nodeToEnvoy(node);
  assert.equal(fromStruct(envoy.metadata).MIZZEN_HEALTH_REPORTING, "true");
  assert.deepEqual(nodeFromEnvoy(decodeRequest(encodeRequest({ node: envoy as Record<string, unknown>, type_url: "t" })).node), node);
  const off = nodeToEnvoy(testNode("web"));
  assert.equal(fromStruct(off.metadata).MIZZEN_HEALTH_REPORTING, undefined);
  assert.equal(nodeFromEnvoy(off).healthReporting, undefined);
});

test("the metrics port rides in metadata as MIZZEN_METRICS_PORT (0 = none); junk or absence leaves it unset", () => {
  for (const metricsPort of [15090, 0]) {
    const node = testNode("web", { metricsPort, proxyVersion: "mizzen-0.1.0" });
    const envoy = nodeToEnvoy(node);
    assert.equal(fromStruct(envoy.metadata).MIZZEN_METRICS_PORT, String(metricsPort));
    assert.deepEqual(nodeFromEnvoy(decodeRequest(encodeRequest({ node: envoy as Record<string, unknown>, type_url: "t" })).node), node);
  }
  assert.equal(fromStruct(nodeToEnvoy(testNode("web")).metadata).MIZZEN_METRICS_PORT, undefined);
  for (const junk of ["x", "70000", "-1", "1.5", ""]) {
    assert.equal(nodeFromEnvoy({ id: "sidecar~1.2.3.4~a.default~default.svc.cluster.local", metadata: toStruct({ MIZZEN_METRICS_PORT: junk }) }).metricsPort, undefined, junk);
  }
});

test("grpc-js-xds style node: user-chosen id, GENERATOR=grpc marks proxyless", () => {
  const node = nodeFromEnvoy({
    id: "my-grpc-client",
    locality: { zone: "z" },
    user_agent_name: "gRPC Node Pure JS",
    user_agent_version: "1.14.1",
    client_features: ["envoy.lb.does_not_support_overprovisioning"],
    metadata: toStruct({ GENERATOR: "grpc", NAMESPACE: "shop", LABELS: { app: "ui" }, INSTANCE_IPS: "127.10.1.9,::1" }),
  });
  assert.equal(node.type, "grpc");
  assert.equal(node.id, "my-grpc-client");
  assert.equal(node.name, "my-grpc-client");
  assert.equal(node.namespace, "shop");
  assert.equal(node.ip, "127.10.1.9");
  assert.deepEqual(node.labels, { app: "ui" });
  assert.equal(node.appAddress, "");
  assert.equal(node.autoRegister, false);
  assert.equal(node.proxyVersion, "gRPC Node Pure JS 1.14.1");
});

test("Istio id form fills what metadata leaves out; defaults for the rest", () => {
  assert.deepEqual(parseIstioId("sidecar~10.1.2.3~productpage-v1-abc.bookinfo~bookinfo.svc.cluster.local"), {
    type: "sidecar", ip: "10.1.2.3", name: "productpage-v1-abc", namespace: "bookinfo",
  });
  const node = nodeFromEnvoy({ id: "router~10.0.0.9~gw-1.istio-system~istio-system.svc.cluster.local" });
  assert.equal(node.type, "router");
  assert.equal(node.name, "gw-1");
  assert.equal(node.namespace, "istio-system");
  assert.equal(node.ip, "10.0.0.9");
  assert.deepEqual(node.labels, {});
  assert.deepEqual(node.ports, []);
  assert.equal(node.serviceAccount, "default");
});

test("odd input never throws", () => {
  for (const odd of [undefined, null, 42, "x", [], { id: 5 }, { id: "a~b" }, { metadata: "nope" }, { metadata: { fields: { LABELS: { string_value: "{bad json" }, POD_PORTS: { string_value: "[{\"containerPort\":99999}]" } } } }]) {
    const node = nodeFromEnvoy(odd);
    assert.equal(typeof node.name, "string");
    assert.equal(node.namespace, "default");
  }
  const r = readEnvoyNode(undefined);
  assert.ok("error" in r && /carries no node/.test(r.error));
  const noId = readEnvoyNode({ cluster: "x" });
  assert.ok("error" in noId && /no id/.test(noId.error));
});
