// Two sidecars in one process: a client's outbound listener -> the server's inbound listener
// -> the application. Both report Istio's standard metrics; the peer metadata headers they
// exchange reach neither application.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { ProxyNode } from "../../xds/node.ts";
import type { Cluster } from "../../xds/envoy-types.ts";
import { createDataPlane, type DataPlane } from "../main.ts";
import { cla, edsCluster, feed, hcmListener, routeConfig, startUpstream, toCluster, vhost, viaProxy } from "../test-kit.ts";
import { PEER_ID_HEADER, PEER_METADATA_HEADER } from "./peer-metadata.ts";
import { METRICS_PATH, startMetricsServer } from "./metrics-server.ts";
import { silentLogger } from "../../log/logger.ts";

function node(name: string, app: string, version: string): ProxyNode {
  return { id: `sidecar~127.0.0.1~${name}.default~default.svc.cluster.local`, type: "sidecar", ip: "127.0.0.1", name, namespace: "default", labels: { app, version }, serviceAccount: app, ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false };
}

function withService(c: Cluster, name: string): Cluster {
  const s = (v: string) => ({ string_value: v });
  return { ...c, metadata: { filter_metadata: { istio: { fields: { services: { list_value: { values: [{ struct_value: { fields: { host: s(`${name}.default.svc.cluster.local`), name: s(name), namespace: s("default") } } }] } } } } } } };
}

type Labels = Record<string, string>;
/** Samples of one metric: labels and value. */
function samples(text: string, metric: string): { labels: Labels; value: number }[] {
  const out: { labels: Labels; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("} ");
    const labels: Labels = {};
    for (const m of line.slice(metric.length + 1, close).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    out.push({ labels, value: Number(line.slice(close + 2)) });
  }
  return out;
}

function find(text: string, metric: string, want: Labels): { labels: Labels; value: number } | undefined {
  return samples(text, metric).find((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test("both reporters count a request with the right peers, and the peer headers reach no application", async () => {
  const app = await startUpstream("reviews-app");
  cleanups.push(() => app.close());
  const server: DataPlane = createDataPlane({ node: node("reviews-v2", "reviews", "v2"), drainMs: 100, accessLog: () => {} });
  cleanups.push(() => server.close());
  assert.equal(await feed(server, {
    clusters: [{ name: "inbound|80||", type: "STATIC", connect_timeout: { seconds: 1 }, load_assignment: cla("inbound|80||", [{ port: app.port }]) }],
    listeners: [hcmListener("inbound|80", { inbound: true, routeConfig: routeConfig("inbound|80", [vhost("inbound", ["*"], [toCluster("inbound|80||")])]) })],
  }), null);
  const serverPort = server.listeners.port("inbound|80")!;

  const client: DataPlane = createDataPlane({ node: node("productpage-v1", "productpage", "v1"), drainMs: 100, accessLog: () => {} });
  cleanups.push(() => client.close());
  const reviews = "outbound|80||reviews.default.svc.cluster.local";
  const dead = "outbound|80||dead.default.svc.cluster.local";
  assert.equal(await feed(client, {
    clusters: [withService(edsCluster(reviews), "reviews"), withService(edsCluster(dead), "dead")],
    endpoints: [cla(reviews, [{ port: serverPort }]), cla(dead, [{ port: 1, health: "UNHEALTHY" }])],
    listeners: [hcmListener("http_proxy", { routeConfig: routeConfig("http_proxy", [
      vhost("reviews", ["reviews", "reviews.default.svc.cluster.local"], [toCluster(reviews)]),
      vhost("dead", ["dead"], [toCluster(dead)]),
    ]) })],
  }), null);
  const clientPort = client.listeners.port("http_proxy")!;

  // A client trying to forge its identity is ignored: its headers are replaced.
  const r = await viaProxy(clientPort, "http://reviews/books", { method: "POST", body: "abc", headers: { [PEER_METADATA_HEADER]: "forged", [PEER_ID_HEADER]: "forged" } });
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body) as { headers: Record<string, string> };
  assert.equal(seen.headers[PEER_METADATA_HEADER], undefined, "the application never sees peer metadata");
  assert.equal(seen.headers[PEER_ID_HEADER], undefined);
  assert.equal(r.headers[PEER_METADATA_HEADER], undefined, "the client never sees peer metadata");
  assert.equal(r.headers[PEER_ID_HEADER], undefined);

  const uh = await viaProxy(clientPort, "http://dead/");
  assert.equal(uh.status, 503);
  assert.equal(uh.headers[PEER_METADATA_HEADER], undefined);

  const common = { source_workload: "productpage-v1", source_app: "productpage", source_version: "v1", source_workload_namespace: "default", source_canonical_service: "productpage", source_canonical_revision: "v1" };
  const toReviews = { ...common, destination_workload: "reviews-v2", destination_app: "reviews", destination_version: "v2", destination_workload_namespace: "default", destination_canonical_service: "reviews", destination_canonical_revision: "v2", destination_service: "reviews.default.svc.cluster.local", destination_service_name: "reviews", destination_service_namespace: "default", request_protocol: "http", response_code: "200", response_flags: "-", source_principal: "unknown", destination_principal: "unknown" };
  await eventually("the destination reporter's series", () => find(server.prometheus(), "istio_requests_total", { reporter: "destination" }) !== undefined);
  await eventually("the source reporter's series", () => find(client.prometheus(), "istio_requests_total", { reporter: "source", response_code: "503" }) !== undefined);

  const clientText = client.prometheus();
  const serverText = server.prometheus();
  // Plaintext between these sidecars: the destination says "none", the source "unknown" (Istio's values).
  assert.equal(find(clientText, "istio_requests_total", { reporter: "source", ...toReviews, connection_security_policy: "unknown" })?.value, 1, clientText);
  assert.equal(find(serverText, "istio_requests_total", { reporter: "destination", ...toReviews, connection_security_policy: "none" })?.value, 1, serverText);
  assert.equal(samples(serverText, "istio_requests_total").length, 1, "the server reports only its inbound request");

  const unhealthy = find(clientText, "istio_requests_total", { reporter: "source", ...common, response_code: "503", response_flags: "UH" });
  assert.equal(unhealthy?.value, 1, clientText);
  assert.equal(unhealthy.labels.destination_service, "dead.default.svc.cluster.local");
  assert.equal(unhealthy.labels.destination_service_name, "dead");
  assert.equal(unhealthy.labels.destination_workload, "unknown", "nobody answered, so the destination workload is unknown");

  // Histograms: one observation each, the request body counted in bytes.
  assert.equal(find(clientText, "istio_request_duration_milliseconds_count", { reporter: "source", response_code: "200" })?.value, 1);
  assert.equal(find(clientText, "istio_request_duration_milliseconds_bucket", { reporter: "source", response_code: "200", le: "+Inf" })?.value, 1);
  assert.equal(find(serverText, "istio_request_bytes_sum", { reporter: "destination" })?.value, 3);
  assert.equal(find(serverText, "istio_request_bytes_bucket", { reporter: "destination", le: "1" })?.value, 0);
  assert.equal(find(serverText, "istio_request_bytes_bucket", { reporter: "destination", le: "5" })?.value, 1);
  assert.equal(find(clientText, "istio_response_bytes_sum", { reporter: "source", response_code: "200" })?.value, Buffer.byteLength(r.body));
  // The application is gone: the server's sidecar answers 503 UF itself and still says who it is.
  await app.close();
  const uf = await viaProxy(clientPort, "http://reviews/books");
  assert.equal(uf.status, 503);
  assert.equal(uf.headers[PEER_METADATA_HEADER], undefined);
  await eventually("the destination reporter's UF", () => find(server.prometheus(), "istio_requests_total", { reporter: "destination", response_flags: "UF" }) !== undefined);
  await eventually("the source reporter's 503", () => find(client.prometheus(), "istio_requests_total", { reporter: "source", response_code: "503", destination_workload: "reviews-v2" }) !== undefined);
  const seenBySource = find(client.prometheus(), "istio_requests_total", { reporter: "source", response_code: "503", destination_workload: "reviews-v2" });
  assert.equal(seenBySource?.labels.response_flags, "-", "the client's sidecar got an answer; the failure flag is the server's");
  assert.equal(find(server.prometheus(), "istio_requests_total", { reporter: "destination", response_flags: "UF" })?.labels.source_workload, "productpage-v1");

  // The existing counters stay, as envoy_* counters on the same page.
  assert.match(client.prometheus(), /^envoy_downstream_rq_total 3$/m);
  assert.match(client.prometheus(), /^envoy_response_flag_UH 1$/m);
});

test("the metrics server answers /stats/prometheus and nothing else", async () => {
  const m = await startMetricsServer("127.0.0.1", 0, () => "# TYPE x counter\nx 1\n", silentLogger);
  assert.ok(m);
  cleanups.push(() => new Promise((r) => m.server.close(r)));
  const get = (path: string) => new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    http.get({ host: "127.0.0.1", port: m.port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
    }).on("error", reject);
  });
  const ok = await get(METRICS_PATH);
  assert.equal(ok.status, 200);
  assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
  assert.equal(ok.body, "# TYPE x counter\nx 1\n");
  assert.equal((await get("/other")).status, 404);
  // A port already taken: logged, no crash, no server.
  assert.equal(await startMetricsServer("127.0.0.1", m.port, () => "", silentLogger), undefined);
});

test("an inbound sidecar answers with its peer metadata only to a peer that sent its own (as Istio)", async () => {
  const app = await startUpstream("details-app");
  cleanups.push(() => app.close());
  const server: DataPlane = createDataPlane({ node: node("details-v1", "details", "v1"), drainMs: 100, accessLog: () => {} });
  cleanups.push(() => server.close());
  assert.equal(await feed(server, {
    clusters: [{ name: "inbound|80||", type: "STATIC", connect_timeout: { seconds: 1 }, load_assignment: cla("inbound|80||", [{ port: app.port }]) }],
    listeners: [hcmListener("inbound|80", { inbound: true, routeConfig: routeConfig("inbound|80", [vhost("inbound", ["*"], [toCluster("inbound|80||")])]) })],
  }), null);
  const port = server.listeners.port("inbound|80")!;
  const plain = await viaProxy(port, "http://details/");
  assert.equal(plain.status, 200);
  assert.equal(plain.headers[PEER_METADATA_HEADER], undefined, "a client outside the mesh learns nothing about the workload");
  assert.equal(plain.headers[PEER_ID_HEADER], undefined);
  const fromSidecar = await viaProxy(port, "http://details/", { headers: { [PEER_METADATA_HEADER]: Buffer.from(JSON.stringify({ NAME: "productpage-v1", NAMESPACE: "default" })).toString("base64") } });
  assert.equal(fromSidecar.status, 200);
  assert.ok(fromSidecar.headers[PEER_METADATA_HEADER], "a sidecar gets the destination's metadata back");
  assert.equal(fromSidecar.headers[PEER_ID_HEADER], "sidecar~127.0.0.1~details-v1.default~default.svc.cluster.local");
});
