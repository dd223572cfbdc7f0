// Health reports (Istio's HealthInformation) over a real ADS stream: they reach onHealth, are
// never answered or counted as bad requests, and the client repeats the last one after a
// reconnect.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, credentials, Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import { AdsServer } from "./server.ts";
import { AdsClient } from "./client.ts";
import { TYPE } from "./envoy-types.ts";
import type { ProxyNode } from "./node.ts";
import { nodeToEnvoy } from "./node-codec.ts";
import { HEALTH_INFO_TYPE, healthRequest, readHealthReport } from "./health-info.ts";
import { ADS_PATH, decodeResponse, encodeRequest, decodeRequest, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from "./ads-service.ts";
import { edsCluster, sleep, testNode, waitFor } from "./ads-test-kit.ts";

interface Heard { proxy: string; connection: string; healthy: boolean; message: string | undefined }

function resourcesFor(): Map<string, Map<string, object>> {
  return new Map([[TYPE.cluster, new Map([["c1", edsCluster("c1")]])]]);
}

function server(heard: Heard[]): AdsServer {
  return new AdsServer({
    resourcesFor,
    debounceMs: 10,
    onHealth: (node: ProxyNode, connection, healthy, message) => heard.push({ proxy: node.name, connection, healthy, message }),
  });
}

function client(port: number, node: ProxyNode, responses: string[]): AdsClient {
  return new AdsClient({
    server: `127.0.0.1:${port}`,
    node,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    onResponse: (typeUrl) => {
      responses.push(typeUrl);
      return null;
    },
  });
}

test("the request form survives the wire: no error_detail is healthy, error_detail carries why", () => {
  const sick = decodeRequest(encodeRequest(healthRequest({ healthy: false, message: "127.10.2.1:8080: refused" })));
  assert.equal(sick.type_url, HEALTH_INFO_TYPE);
  assert.deepEqual(sick.resource_names, []);
  assert.deepEqual(readHealthReport(sick), { healthy: false, message: "127.10.2.1:8080: refused" });
  const well = decodeRequest(encodeRequest(healthRequest({ healthy: true })));
  assert.deepEqual(readHealthReport(well), { healthy: true });
});

test("reports reach onHealth, show in sync status, and are neither answered nor bad requests", { timeout: 20_000 }, async () => {
  const heard: Heard[] = [];
  const ads = server(heard);
  const port = await ads.listen("127.0.0.1", 0);
  const responses: string[] = [];
  const proxy = client(port, testNode("web", { healthReporting: true, autoRegister: true }), responses);
  try {
    proxy.start();
    proxy.subscribeAll(TYPE.cluster);
    proxy.reportHealth(false, "127.10.2.1:8080: connection refused");
    await waitFor("unhealthy report", () => heard.length === 1);
    assert.deepEqual(heard[0], { proxy: "web", connection: heard[0]!.connection, healthy: false, message: "127.10.2.1:8080: connection refused" });
    assert.equal(ads.syncStatus()[0]?.health?.healthy, false);

    proxy.reportHealth(true);
    await waitFor("healthy report", () => heard.length === 2);
    assert.equal(heard[1]!.healthy, true);
    assert.equal(heard[1]!.message, undefined);
    assert.equal(ads.syncStatus()[0]?.health?.healthy, true);

    await waitFor("CDS answered", () => responses.length >= 1);
    await sleep(100); // room for a wrong answer to arrive
    assert.deepEqual(responses, [TYPE.cluster], "only the subscription is answered");
    const stats = ads.stats();
    assert.equal(stats.badRequests, 0);
    assert.equal(stats.pushesByType[HEALTH_INFO_TYPE], undefined);
    assert.deepEqual(ads.syncStatus()[0]?.types.map((t) => t.typeUrl), [TYPE.cluster]);
  } finally {
    proxy.close();
    await ads.close();
  }
});

test("a health report may be a stream's first request (it carries the node) and gets no response", { timeout: 20_000 }, async () => {
  const heard: Heard[] = [];
  const ads = server(heard);
  const port = await ads.listen("127.0.0.1", 0);
  const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const stream = raw.makeBidiStreamRequest(ADS_PATH, encodeRequest, decodeResponse, new Metadata()) as ClientDuplexStream<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage>;
  const got: DiscoveryResponseMessage[] = [];
  stream.on("data", (r: DiscoveryResponseMessage) => got.push(r));
  stream.on("error", () => {});
  try {
    stream.write({ ...healthRequest({ healthy: false, message: "starting" }), node: nodeToEnvoy(testNode("raw")) as Record<string, unknown> });
    await waitFor("report heard", () => heard.length === 1);
    assert.equal(ads.connections().length, 1, "the report identified the proxy");
    await sleep(100);
    assert.equal(got.length, 0);
    assert.equal(ads.stats().badRequests, 0);
  } finally {
    stream.end();
    raw.close();
    await ads.close();
  }
});

test("the client repeats its last report after reconnecting to a restarted server", { timeout: 30_000 }, async () => {
  const heardFirst: Heard[] = [];
  const first = server(heardFirst);
  const port = await first.listen("127.0.0.1", 0);
  const proxy = client(port, testNode("web", { healthReporting: true, autoRegister: true }), []);
  let second: AdsServer | undefined;
  try {
    proxy.start();
    proxy.subscribeAll(TYPE.cluster);
    proxy.reportHealth(true);
    await waitFor("report on the first server", () => heardFirst.length === 1);
    await first.close();
    await waitFor("client notices", () => !proxy.connected);
    const heardSecond: Heard[] = [];
    second = server(heardSecond);
    assert.equal(await second.listen("127.0.0.1", port), port);
    await waitFor("report repeated on the second server", () => heardSecond.length === 1);
    assert.equal(heardSecond[0]!.healthy, true);
    assert.equal(heardFirst.length, 1);
  } finally {
    proxy.close();
    await first.close();
    await second?.close();
  }
});
