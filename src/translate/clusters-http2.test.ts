import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, proxy } from "../registry/fixtures.ts";
import { HTTP2_PROTOCOL_OPTIONS, translateClusters } from "./clusters.ts";
import { inputFor } from "./test-support.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { compileCluster } from "../proxy/state/compile-cluster.ts";

const CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

const objects = [
  cfg("Service", "echo", { selector: { app: "echo" }, ports: [{ name: "grpc", port: 7070 }, { name: "http2-api", port: 8080 }, { name: "http", port: 9090 }] }),
];

function clusters() {
  const p = proxy("echo-v1", "127.10.1.9", { app: "echo" }, { ports: [{ name: "grpc", containerPort: 7070 }, { name: "web", containerPort: 9090, protocol: "HTTP2" }, { name: "http", containerPort: 9091 }] });
  return translateClusters(inputFor(objects, [p], p));
}

test("GRPC and HTTP2 service ports get Envoy's upstream HTTP/2 option, HTTP ports do not", () => {
  const byName = new Map(clusters().map((c) => [c.name, c]));
  assert.deepEqual(byName.get("outbound|7070||echo.default.svc.cluster.local")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS);
  assert.deepEqual(byName.get("outbound|8080||echo.default.svc.cluster.local")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS);
  assert.equal(byName.get("outbound|9090||echo.default.svc.cluster.local")?.typed_extension_protocol_options, undefined);
});

test("inbound clusters of gRPC/HTTP2 workload ports (by name or explicit protocol) speak HTTP/2", () => {
  const byName = new Map(clusters().map((c) => [c.name, c]));
  assert.deepEqual(byName.get("inbound|7070||")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS);
  assert.deepEqual(byName.get("inbound|9090||")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS);
  assert.equal(byName.get("inbound|9091||")?.typed_extension_protocol_options, undefined);
});

test("the option survives the wire and the sidecar compiles it to http2", () => {
  const c = clusters().find((x) => x.name === "outbound|7070||echo.default.svc.cluster.local")!;
  const back = decodeResource(encodeResource(CLUSTER_TYPE, c));
  assert.equal(compileCluster(back as typeof c).http2, true);
  const plain = clusters().find((x) => x.name === "outbound|9090||echo.default.svc.cluster.local")!;
  assert.equal(compileCluster(decodeResource(encodeResource(CLUSTER_TYPE, plain)) as typeof c).http2, undefined);
});

test("h2UpgradePolicy UPGRADE carries an HTTP port over HTTP/2, at top and port level; DO_NOT_UPGRADE does not", () => {
  const dr = cfg("DestinationRule", "echo", {
    host: "echo",
    trafficPolicy: {
      connectionPool: { http: { h2UpgradePolicy: "UPGRADE" } },
      portLevelSettings: [{ port: { number: 8080 }, connectionPool: { http: { h2UpgradePolicy: "DO_NOT_UPGRADE" } } }],
    },
  });
  const p = proxy("client", "127.10.1.8", { app: "client" });
  const byName = new Map(translateClusters(inputFor([...objects, dr], [p], p)).map((c) => [c.name, c]));
  assert.deepEqual(byName.get("outbound|9090||echo.default.svc.cluster.local")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS, "HTTP port upgraded");
  assert.deepEqual(byName.get("outbound|8080||echo.default.svc.cluster.local")?.typed_extension_protocol_options, HTTP2_PROTOCOL_OPTIONS, "an HTTP2 port stays HTTP/2");
  const noUpgrade = translateClusters(inputFor([...objects, cfg("DestinationRule", "echo", { host: "echo", trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: "DO_NOT_UPGRADE" } } } })], [p], p));
  assert.equal(noUpgrade.find((c) => c.name === "outbound|9090||echo.default.svc.cluster.local")?.typed_extension_protocol_options, undefined);
});
