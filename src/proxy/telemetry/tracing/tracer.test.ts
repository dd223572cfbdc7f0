// The tracer inside a real data plane: requests through listeners with tracing reach a real
// upstream carrying the proxy's span as parent, and the spans reach a real collector over HTTP
// (OTLP JSON and Zipkin JSON v2, encoded by OpenTelemetry's exporters).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { HcmTracing, Listener } from "../../../xds/envoy-types.ts";
import type { ProxyNode } from "../../../xds/node.ts";
import { createDataPlane, type DataPlane } from "../../main.ts";
import { cla, edsCluster, feed, hcmListener, routeConfig, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../../test-kit.ts";
import { startTraceReceiver, type TraceReceiver } from "../../../../test/support/trace-receiver.ts";
import { otelTracing, zipkinTracing } from "./test-kit.ts";
import { SpanBatcher } from "./span-batcher.ts";
import type { SpanRecord } from "./span-record.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

const NODE: ProxyNode = {
  id: "sidecar~127.0.0.1~web-1.shop~shop.svc.cluster.local", type: "sidecar", ip: "127.0.0.1", name: "web-1", namespace: "shop",
  labels: { app: "web", version: "v1" }, serviceAccount: "web", ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false,
};

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function traced(name: string, inbound: boolean, tracing: HcmTracing): Listener {
  const l = hcmListener(name, { inbound, routeConfig: routeConfig(name, [vhost("all", ["*"], [toCluster("app")])]) });
  (l.filter_chains![0]!.filters[0]!.typed_config as { tracing?: HcmTracing }).tracing = tracing;
  return l;
}

async function plane(listeners: Listener[], collectorPort: number, app: Upstream): Promise<DataPlane> {
  const p = createDataPlane({ drainMs: 500, node: NODE, accessLog: () => {} });
  closers.push(() => p.close());
  const nack = await feed(p, {
    clusters: [edsCluster("app"), edsCluster("collector")],
    endpoints: [cla("app", [{ port: app.port }]), cla("collector", [{ port: collectorPort }])],
    listeners,
  });
  assert.equal(nack, null);
  return p;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
}

let receiver: TraceReceiver;
let app: Upstream;

test("setup: a collector and an application", async () => {
  receiver = await startTraceReceiver();
  closers.push(() => receiver.close());
  app = await startUpstream("app");
  closers.push(() => app.close());
});

test("OTLP: an outbound request continues the caller's W3C trace; the CLIENT span reaches the collector", async () => {
  const p = await plane([traced("out", false, otelTracing({}, "collector"))], receiver.port, app);
  const res = await viaProxy(p.listeners.port("out")!, "http://shop-api:8080/orders?id=7", { headers: { traceparent: `00-${TRACE}-${SPAN}-01`, "x-request-id": "req-1" } });
  assert.equal(res.status, 200);
  const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent ?? "");
  assert.ok(m, `the application got a traceparent: ${seen.traceparent}`);
  assert.equal(m[1], TRACE, "same trace");
  const [span] = await receiver.waitForTrace(TRACE, 1);
  assert.ok(span);
  assert.deepEqual([span.format, span.kind, span.spanId, span.parentSpanId], ["otlp", "CLIENT", m[2], SPAN], "the upstream's parent is this span; this span's parent is the caller's");
  assert.equal(span.serviceName, "a.default", "service_name from the provider config");
  assert.equal(span.status, "UNSET");
  assert.equal(span.attributes["http.status_code"], "200");
  assert.equal(span.attributes["guid:x-request-id"], "req-1");
  assert.equal(span.attributes["http.url"], "http://shop-api:8080/orders?id=7");
  assert.equal(span.attributes.node_id, NODE.id);
  assert.equal(span.attributes.upstream_cluster, "app");
  assert.deepEqual(receiver.posts.at(-1), { path: "/v1/traces", contentType: "application/json" });
  assert.deepEqual(receiver.errors, []);
  await until("spans_sent counted", () => p.stats.get("tracing.opentelemetry.spans_sent") >= 1);
  assert.equal(p.stats.get("tracing.parent_sampled"), 1);
});

test("Zipkin: an inbound request with B3 gets a SERVER span under the proxy's own service name; 5xx is an error", async () => {
  const failing = await startUpstream("failing", (_req, res) => {
    res.writeHead(503);
    res.end("down");
  });
  closers.push(() => failing.close());
  const p = await plane([traced("in", true, zipkinTracing({}, "collector"))], receiver.port, failing);
  const res = await viaProxy(p.listeners.port("in")!, "http://web:9080/buy", { headers: { "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "1" } });
  assert.equal(res.status, 503);
  const spans = await receiver.waitForTrace(TRACE, 2);
  const z = spans.find((s) => s.format === "zipkin")!;
  assert.deepEqual([z.kind, z.parentSpanId, z.serviceName, z.status, z.attributes["http.status_code"], z.attributes.error], ["SERVER", SPAN, "web.shop", "ERROR", "503", "true"]);
  assert.equal(z.name, "web:9080/buy");
  assert.deepEqual(receiver.posts.at(-1), { path: "/api/v2/spans", contentType: "application/json" });
});

test("not sampled: context still goes upstream with sampled 0, nothing is exported", async () => {
  const p = await plane([traced("quiet", false, otelTracing({ random_sampling: { value: 0 } }, "collector"))], receiver.port, app);
  const before = receiver.spans.length;
  const res = await viaProxy(p.listeners.port("quiet")!, "http://shop-api:8080/");
  const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
  assert.match(seen.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  await p.close(); // flushes every queue
  assert.equal(receiver.spans.length, before);
  assert.equal(p.stats.get("tracing.not_traceable"), 1);
  assert.equal(p.stats.get("tracing.opentelemetry.spans_sent"), 0);
});

test("a collector that is down or missing: spans are dropped and counted, requests unaffected", async () => {
  const gone = await startTraceReceiver();
  const port = gone.port;
  await gone.close();
  const p = await plane([traced("out", false, otelTracing({}, "collector")), traced("nowhere", false, otelTracing({}, "no-such-cluster"))], port, app);
  assert.equal((await viaProxy(p.listeners.port("out")!, "http://shop-api:8080/")).status, 200);
  assert.equal((await viaProxy(p.listeners.port("nowhere")!, "http://shop-api:8080/")).status, 200);
  await p.close();
  assert.equal(p.stats.get("tracing.opentelemetry.reports_skipped_no_cluster"), 1);
  assert.equal(p.stats.get("tracing.opentelemetry.reports_failed"), 2, "the refused connection and the missing cluster");
  assert.equal(p.stats.get("tracing.opentelemetry.spans_dropped"), 2);
});

test("batching: full batches go at once, the rest on the timer; a full queue drops and counts", async () => {
  const sent: number[] = [];
  const counts = new Map<string, number>();
  const b = new SpanBatcher({
    send: async (spans) => {
      sent.push(spans.length);
      return true;
    },
    count: (name, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by),
    maxBatch: 3,
    maxQueue: 5,
    flushMs: 60_000,
  });
  const span = { traceId: TRACE, spanId: SPAN } as SpanRecord;
  const accepted = Array.from({ length: 7 }, () => b.add(span));
  assert.deepEqual(accepted, [true, true, true, true, true, true, true], "the first batch left the queue at 3");
  await b.flush();
  assert.deepEqual(sent, [3, 3, 1]);
  assert.equal(counts.get("spans_sent"), 7);
  // With the send stuck, the queue fills to its bound.
  let release!: () => void;
  const stuck = new SpanBatcher({ send: () => new Promise((r) => (release = () => r(true))), count: (name, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by), maxBatch: 2, maxQueue: 4, flushMs: 60_000 });
  for (let i = 0; i < 10; i++) stuck.add(span);
  assert.equal(stuck.queued, 4);
  assert.equal(counts.get("spans_dropped"), 4, "2 in flight, 4 queued, 4 dropped");
  release();
  const done = stuck.flush();
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    release();
  }
  await done;
  assert.equal(stuck.queued, 0);
});
