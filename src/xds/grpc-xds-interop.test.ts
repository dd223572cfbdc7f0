// Interop: @grpc/grpc-js-xds, an independent xDS client, resolves "xds:///echo..." through
// our AdsServer (LDS api_listener -> RDS -> CDS -> EDS), ACKs every type, and its RPC reaches
// a loopback backend; a config gRPC rejects comes back as a recorded NACK. Proves the wire format and the ACK flow are real xDS, not just ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, credentials, Server, ServerCredentials, type ServiceDefinition } from "@grpc/grpc-js";
import * as xds from "@grpc/grpc-js-xds";
import { AdsServer } from "./server.ts";
import { TYPE, type Cluster, type ClusterLoadAssignment, type Listener, type RouteConfiguration } from "./envoy-types.ts";
import type { ProxyNode } from "./node.ts";
import { edsCluster, assignment, waitFor } from "./ads-test-kit.ts";

const TARGET = "echo.default.svc.cluster.local:7070";
const CLUSTER = "outbound|7070||echo.default.svc.cluster.local";
const ECHO_PATH = "/test.Echo/Say";
const raw = (b: Buffer) => b;
const echoService: ServiceDefinition = {
  Say: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};

function proxylessResources(backendPort: number, target: string, clusterName: string, withLocality: boolean): Map<string, Map<string, object>> {
  const listener: Listener = {
    name: target,
    api_listener: {
      api_listener: {
        "@type": TYPE.hcm,
        stat_prefix: target,
        rds: { route_config_name: target, config_source: { ads: {}, resource_api_version: "V3" } },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
      },
    },
  };
  const route: RouteConfiguration = {
    name: target,
    virtual_hosts: [{ name: target, domains: [target, "*"], routes: [{ match: { prefix: "" }, route: { cluster: clusterName } }] }],
  };
  const cluster: Cluster = edsCluster(clusterName);
  // gRPC rejects localities without `locality` and ignores those without a weight.
  const base = assignment(clusterName, ["127.0.0.1"], backendPort);
  const cla: ClusterLoadAssignment = withLocality
    ? { ...base, endpoints: base.endpoints.map((e) => ({ ...e, locality: { region: "local" }, load_balancing_weight: { value: 1 } })) }
    : base;
  return new Map<string, Map<string, object>>([
    [TYPE.listener, new Map<string, object>([[target, listener]])],
    [TYPE.route, new Map<string, object>([[target, route]])],
    [TYPE.cluster, new Map<string, object>([[clusterName, cluster]])],
    [TYPE.endpoint, new Map<string, object>([[clusterName, cla]])],
  ]);
}

test("@grpc/grpc-js-xds resolves through our ADS server, ACKs every type, and its NACK is recorded", { timeout: 30_000 }, async () => {
  const backend = new Server();
  backend.addService(echoService, { Say: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, Buffer.concat([Buffer.from("echo:"), call.request])) });
  const backendPort = await new Promise<number>((res, rej) => backend.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));

  const seen: ProxyNode[] = [];
  let resources = proxylessResources(backendPort, TARGET, CLUSTER, true);
  const ads = new AdsServer({ resourcesFor: () => resources, onConnect: (n) => seen.push(n), debounceMs: 10 });
  const adsPort = await ads.listen("127.0.0.1", 0);
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${adsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
    node: { id: "grpc-client-1", locality: {}, metadata: { GENERATOR: "grpc", NAMESPACE: "default", LABELS: { app: "ui" } } },
  });
  xds.register();
  const client = new Client(`xds:///${TARGET}`, credentials.createInsecure());
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(ECHO_PATH, raw, raw, Buffer.from("hi"), { deadline: Date.now() + 20_000 }, (err, value) => (err ? reject(err) : resolve(value!)));
    });
    assert.equal(reply.toString(), "echo:hi");
    assert.equal(seen[0]?.type, "grpc");
    assert.equal(seen[0]?.id, "grpc-client-1");
    assert.deepEqual(seen[0]?.labels, { app: "ui" });
    await waitFor("all four types ACKed", () => {
      const types = ads.syncStatus()[0]?.types ?? [];
      return types.length === 4 && types.every((t) => t.state === "SYNCED");
    });
    const lds = ads.syncStatus()[0]!.types.find((t) => t.typeUrl === TYPE.listener)!;
    assert.deepEqual(lds.subscribed, [TARGET], "grpc subscribes to LDS by name, not wildcard");
    assert.equal(ads.stats().nacks, 0);

    // A config gRPC rejects: the NACK and its reason show up in sync status.
    const bad = new Client("xds:///bad.default.svc.cluster.local:7070", credentials.createInsecure());
    const badResources = proxylessResources(backendPort, "bad.default.svc.cluster.local:7070", "outbound|7070||bad.default.svc.cluster.local", false);
    const good = proxylessResources(backendPort, TARGET, CLUSTER, true);
    resources = new Map([...good].map(([t, m]) => [t, new Map([...m, ...badResources.get(t)!])]));
    ads.push("bad target");
    try {
      bad.makeUnaryRequest(ECHO_PATH, raw, raw, Buffer.from("x"), { deadline: Date.now() + 20_000 }, () => {});
      await waitFor("EDS NACK recorded", () => ads.syncStatus()[0]?.types.find((t) => t.typeUrl === TYPE.endpoint)?.nack !== undefined);
      const eds = ads.syncStatus()[0]!.types.find((t) => t.typeUrl === TYPE.endpoint)!;
      assert.match(eds.nack!.message, /locality/);
      assert.equal(eds.state, "NACKED");
      assert.equal(ads.stats().nacks, 1);
    } finally {
      bad.close();
    }
  } finally {
    client.close();
    await ads.close();
    backend.forceShutdown();
  }
});
