// Telemetry metric overrides on HTTP, as the proxy runs them from an istio.stats filter in the
// connection manager: tags removed or set (literal, request header), a metric dropped, a
// direction off; the same overrides after a snapshot swap keep their series. And
// grpc_response_status, from the status the response carried or Envoy's HTTP mapping.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ProxyNode } from "../../xds/node.ts";
import type { Cluster, Listener } from "../../xds/envoy-types.ts";
import { toStruct } from "../../xds/struct.ts";
import { createDataPlane, type DataPlane } from "../main.ts";
import { cla, edsCluster, feed, hcmListener, routeConfig, startUpstream, toCluster, viaProxy, vhost, type Resources, type Upstream } from "../test-kit.ts";
import { RequestLog } from "../http/request-log.ts";
import { IstioMetrics } from "./istio-metrics.ts";
import { STATS_CONFIG_TYPE_URL } from "./stats-config.ts";
import { matching, one } from "./metrics-test-kit.ts";

const NODE: ProxyNode = { id: "sidecar~127.0.0.1~web-v1.default~default.svc.cluster.local", type: "sidecar", ip: "127.0.0.1", name: "web-v1", namespace: "default", labels: { app: "web", version: "v1" }, serviceAccount: "web", ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false };

function withService(c: Cluster, name: string): Cluster {
  const s = (v: string) => ({ string_value: v });
  return { ...c, metadata: { filter_metadata: { istio: { fields: { services: { list_value: { values: [{ struct_value: { fields: { host: s(`${name}.default.svc.cluster.local`), name: s(name), namespace: s("default") } } }] } } } } } } };
}

/** An outbound HCM listener routing every request to `cluster`, with istio.stats when `overrides` is given. */
function listener(name: string, cluster: string, overrides?: Record<string, unknown>): Listener {
  const l = hcmListener(name, { routeConfig: routeConfig(name, [vhost(name, ["*"], [toCluster(cluster)])]) });
  if (overrides) {
    const hcm = l.filter_chains![0]!.filters[0]!.typed_config;
    hcm.http_filters = [{ name: "istio.stats", typed_config: { "@type": "type.googleapis.com/udpa.type.v1.TypedStruct", type_url: STATS_CONFIG_TYPE_URL, value: toStruct(overrides) } }, ...hcm.http_filters];
  }
  return l;
}

const TUNED = {
  metrics: [
    { tags_to_remove: ["response_flags"] },
    { name: "requests_total", dimensions: { tenant: "request.headers['x-tenant']", source_version: "'canary'" } },
    { name: "request_bytes", drop: true },
  ],
};

let app: Upstream;
let plane: DataPlane;
const api = "outbound|80||api.default.svc.cluster.local";
const quiet = "outbound|80||quiet.default.svc.cluster.local";
let resources: Resources;

before(async () => {
  app = await startUpstream("api");
  plane = createDataPlane({ node: NODE, drainMs: 100, accessLog: () => {} });
  resources = {
    clusters: [withService(edsCluster(api), "api"), withService(edsCluster(quiet), "quiet")],
    endpoints: [cla(api, [{ port: app.port }]), cla(quiet, [{ port: app.port }])],
    listeners: [listener("tuned", api, TUNED), listener("plain", api), listener("off", quiet, { metrics: [{ drop: true }] })],
  };
  assert.equal(await feed(plane, resources), null);
});

after(async () => {
  await plane.close();
  await app.close();
});

const send = (l: string, headers: Record<string, string> = {}) => viaProxy(plane.listeners.port(l)!, "http://api/x", { headers });

test("overrides remove and set tags, read a request header, and drop a metric, on that connection manager only", async () => {
  for (const t of ["t1", "t1", "t2"]) assert.equal((await send("tuned", { "x-tenant": t })).status, 200);
  assert.equal((await send("tuned")).status, 200);
  assert.equal((await send("plain")).status, 200);
  const text = plane.prometheus();
  assert.equal(one(text, "istio_requests_total", { tenant: "t1" })?.value, 2, text);
  assert.equal(one(text, "istio_requests_total", { tenant: "t2" })?.value, 1);
  assert.equal(one(text, "istio_requests_total", { tenant: "unknown" })?.value, 1, "no header: unknown");
  const tuned = one(text, "istio_requests_total", { tenant: "t1" })!.labels;
  assert.equal(tuned.source_version, "canary", "UPSERT replaces a standard tag's value");
  assert.equal(tuned.response_flags, undefined, "the unnamed entry removed response_flags");
  assert.equal(tuned.destination_service, "api.default.svc.cluster.local");
  // The duration histogram got only the unnamed entry: no tenant, the real version, no flags.
  const durations = matching(text, "istio_request_duration_milliseconds_count", { destination_service: "api.default.svc.cluster.local" });
  const tunedDurations = durations.filter((s) => s.labels.response_flags === undefined);
  assert.equal(tunedDurations.length, 1);
  assert.equal(tunedDurations[0]!.value, 4);
  assert.equal(tunedDurations[0]!.labels.source_version, "v1");
  assert.equal(tunedDurations[0]!.labels.tenant, undefined);
  // request_bytes is dropped there; the plain listener still has it, with Istio's labels.
  const bytes = matching(text, "istio_request_bytes_count", { destination_service: "api.default.svc.cluster.local" });
  assert.deepEqual(bytes.map((s) => [s.labels.response_flags, s.value]), [["-", 1]]);
  assert.equal(one(text, "istio_requests_total", { response_flags: "-" })?.value, 1, "the plain listener's request");
});

test("metrics off for a connection manager: requests pass and nothing is recorded", async () => {
  assert.equal((await send("off")).status, 200);
  const text = plane.prometheus();
  assert.equal(matching(text, "istio_requests_total", { destination_service: "quiet.default.svc.cluster.local" }).length, 0);
  assert.equal(matching(text, "istio_request_duration_milliseconds_count", { destination_service: "quiet.default.svc.cluster.local" }).length, 0);
});

test("the same overrides after a snapshot swap keep counting in the same series", async () => {
  const before = one(plane.prometheus(), "istio_requests_total", { tenant: "t1" })!.value;
  assert.equal(await feed(plane, resources, "2"), null);
  assert.equal((await send("tuned", { "x-tenant": "t1" })).status, 200);
  assert.equal(one(plane.prometheus(), "istio_requests_total", { tenant: "t1" })?.value, before + 1, "one series, not two");
});

test("grpc_response_status: the status the response carried, else Envoy's mapping of the HTTP status", () => {
  const m = new IstioMetrics(NODE);
  const log = (status: number, grpc: boolean, grpcStatus?: string): RequestLog => {
    const l = new RequestLog();
    l.status = status;
    l.grpc = grpc;
    l.authority = "api";
    if (grpcStatus !== undefined) l.grpcStatus = grpcStatus;
    return l;
  };
  m.record(false, undefined, log(200, true, "5"));
  m.record(false, undefined, log(200, true, "0"));
  m.record(false, undefined, log(503, true));
  m.record(false, undefined, log(200, true));
  m.record(false, undefined, log(200, false));
  const text = m.render();
  const status = (s: string) => one(text, "istio_requests_total", { grpc_response_status: s });
  assert.equal(status("5")?.labels.request_protocol, "grpc");
  assert.equal(status("0")?.value, 1);
  assert.equal(status("14")?.labels.response_code, "503", "503 without grpc-status maps to UNAVAILABLE");
  assert.equal(status("2")?.value, 1, "200 without grpc-status is UNKNOWN");
  assert.equal(status("")?.labels.request_protocol, "http", "plain HTTP has an empty grpc_response_status");
});
