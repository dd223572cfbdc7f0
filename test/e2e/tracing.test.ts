// Distributed tracing end to end, with real processes (`mizzen up`): three services a -> b -> c,
// each app forwarding the trace headers it received (as Istio asks of applications), a real
// OTLP/HTTP receiver and a Zipkin receiver registered in the mesh as a ServiceEntry, and tracing
// turned on by Istio's own config: meshconfig.yaml (extensionProviders) + a Telemetry object.
//   - one request yields one trace: a's CLIENT span -> b's SERVER -> b's CLIENT -> c's SERVER,
//     each the parent of the next, with Istio's service names and the status codes;
//   - a request arriving with a traceparent continues that trace;
//   - at 0 % nothing is exported, yet the context (sampled 00) still reaches c;
//   - switching the Telemetry to the Zipkin provider sends Zipkin JSON v2 with B3 ids;
//   - an opentelemetry provider without http (Istio's OTLP over gRPC, port 4317) exports to a
//     real gRPC TraceService with the provider's initialMetadata.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { getJson, waitFor } from "../support/http.ts";
import { startTraceReceiver, type ReceivedSpan, type TraceReceiver } from "../support/trace-receiver.ts";
import { startOtlpGrpcReceiver, type OtlpGrpcReceiver } from "../support/otlp-grpc-receiver.ts";

const SUBNET = 151;
const COLLECTOR_IP = `127.${SUBNET}.9.1`;

const MESH_CONFIG = `# Istio's MeshConfig (the "mesh" key of the istio ConfigMap)
extensionProviders:
- name: otel
  opentelemetry:
    service: collector.tracing.test
    port: 4318
    http: { path: /v1/traces, timeout: 5s }
- name: zipkin
  zipkin:
    service: collector.tracing.test
    port: 9411
- name: otel-grpc
  opentelemetry:
    service: collector.tracing.test
    port: 4317
    grpc: { timeout: 5s, initialMetadata: [ { name: x-tenant, value: team-grpc } ] }
`;

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: a, namespace: default }
spec: { selector: { app: a }, ports: [ { name: http, port: 8080 } ] }
---
apiVersion: v1
kind: Service
metadata: { name: b, namespace: default }
spec: { selector: { app: b }, ports: [ { name: http, port: 8080 } ] }
---
apiVersion: v1
kind: Service
metadata: { name: c, namespace: default }
spec: { selector: { app: c }, ports: [ { name: http, port: 8080 } ] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: collector, namespace: observability }
spec:
  hosts: [collector.tracing.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - { name: http-otlp, number: 4318, protocol: HTTP }
  - { name: http-zipkin, number: 9411, protocol: HTTP }
  - { name: grpc-otlp, number: 4317, protocol: GRPC }
  endpoints: [ { address: ${COLLECTOR_IP} } ]
`;

const telemetry = (provider: string, percent: number) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [ { name: ${provider} } ]
    randomSamplingPercentage: ${percent}
`;

const WORKLOADS = `workloads:
${["a", "b", "c"].map((s, i) => `  - name: ${s}
    labels: { app: ${s}, version: v1 }
    ports: [ { name: http, port: 8080 } ]
    command: ["node", "app.mjs"]
    env: { SERVICE_NAME: ${s}${i < 2 ? `, NEXT: "http://${"abc"[i + 1]}:8080"` : ""} }`).join("\n")}
`;

// Each app answers GET /chain: it reports the trace headers it got and, unless it is last,
// calls the next service through its sidecar (HTTP_PROXY) forwarding those headers.
// ?fail=<name> makes that service answer 500.
const APP = `import http from "node:http";
const FORWARD = ["x-request-id", "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "x-envoy-force-trace"];
const name = process.env.SERVICE_NAME;
const next = process.env.NEXT;
http.createServer((req, res) => {
  const url = new URL(req.url, "http://app");
  const received = {};
  for (const h of FORWARD) if (typeof req.headers[h] === "string") received[h] = req.headers[h];
  const reply = (status, body) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
  if (url.pathname !== "/chain") return reply(404, { service: name });
  if (!next) return reply(url.searchParams.get("fail") === name ? 500 : 200, { service: name, received });
  http.get(next + "/chain" + url.search, { headers: received }, (r) => {
    let text = "";
    r.on("data", (c) => (text += c));
    r.on("end", () => { let body; try { body = JSON.parse(text); } catch { body = text; } reply(r.statusCode, { service: name, received, next: body }); });
  }).on("error", (err) => reply(502, { service: name, received, error: err.message }));
}).listen(Number(process.env.PORT), process.env.HOST);
process.on("SIGTERM", () => process.exit(0));
`;

interface Hop { service: string; received: Record<string, string>; next?: Hop }

const dir = mkdtempSync(join(tmpdir(), "mizzen-tracing-"));
let mesh: TestMesh | undefined;
let otlp: TraceReceiver | undefined;
let zipkin: TraceReceiver | undefined;
let otlpGrpc: OtlpGrpcReceiver | undefined;
after(async () => {
  await mesh?.stop();
  await otlp?.close();
  await zipkin?.close();
  await otlpGrpc?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GET /chain on a's application directly (a is the first hop that has a sidecar on its way out). */
function callA(query = "", headers: Record<string, string> = {}): Promise<{ status: number; body: Hop }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: `127.${SUBNET}.2.1`, port: 8080, path: `/chain${query}`, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Hop }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("a did not answer")));
    req.on("error", reject);
  });
}

function hops(h: Hop): Hop[] {
  return h.next ? [h, ...hops(h.next)] : [h];
}

/** The outbound HCM's tracing of each sidecar, as its admin /config_dump shows it. */
async function tracingConfigs(): Promise<{ provider?: string; random: number }[]> {
  return Promise.all([1, 2, 3].map(async (n) => {
    const dump = await getJson<{ configs: { dynamic_listeners?: { name: string; active_state: { listener: { filter_chains: { filters: { typed_config: { tracing?: { provider?: { name: string }; random_sampling?: { value?: number } } } }[] }[] } } }[] }[] }>(`http://${mesh!.podIp(n)}:15000/config_dump`);
    const l = dump.configs[0]!.dynamic_listeners?.find((x) => x.name === "http_proxy");
    const t = l?.active_state.listener.filter_chains[0]?.filters[0]?.typed_config.tracing;
    return { ...(t?.provider ? { provider: t.provider.name } : {}), random: t?.random_sampling?.value ?? 0 };
  }));
}

async function applyTelemetry(provider: string, percent: number, tracer: string): Promise<void> {
  writeFileSync(join(dir, "telemetry.yaml"), telemetry(provider, percent));
  await waitFor(`every sidecar on ${tracer} at ${percent} %`, async () => (await tracingConfigs()).every((c) => c.provider === tracer && c.random === percent), 15_000, 100);
}

/** The spans of one trace in hop order: the root first, then each one's child. */
function chain(spans: ReceivedSpan[]): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  let cur = spans.find((s) => !spans.some((p) => p.spanId === s.parentSpanId));
  while (cur) {
    out.push(cur);
    const id: string = cur.spanId;
    cur = spans.find((s) => s.parentSpanId === id);
  }
  return out;
}

test("tracing across a -> b -> c: OTLP spans with parent links, continued context, sampling 0, Zipkin, OTLP over gRPC", { timeout: 150_000 }, async () => {
  otlp = await startTraceReceiver(COLLECTOR_IP, 4318);
  zipkin = await startTraceReceiver(COLLECTOR_IP, 9411);
  otlpGrpc = await startOtlpGrpcReceiver(COLLECTOR_IP, 4317);
  writeFileSync(join(dir, "meshconfig.yaml"), MESH_CONFIG);
  writeFileSync(join(dir, "services.yaml"), CONFIG);
  writeFileSync(join(dir, "telemetry.yaml"), telemetry("otel", 100));
  writeFileSync(join(dir, "workloads.yaml"), WORKLOADS);
  writeFileSync(join(dir, "app.mjs"), APP);
  mesh = await startMesh(dir, SUBNET, 3);
  await waitFor("a -> b -> c answering", async () => (await callA()).status === 200, 20_000, 200);
  assert.deepEqual(await tracingConfigs(), [1, 2, 3].map(() => ({ provider: "envoy.tracers.opentelemetry", random: 100 })));

  // 1. One request, one trace of four spans, each hop the parent of the next.
  const first = await callA();
  assert.equal(first.status, 200);
  const [ha, hb, hc] = hops(first.body);
  assert.deepEqual([ha?.service, hb?.service, hc?.service], ["a", "b", "c"]);
  const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(hc!.received.traceparent ?? "");
  assert.ok(tp, `c got a sampled traceparent: ${JSON.stringify(hc!.received)}`);
  const traceId = tp[1]!;
  const spans = chain(await otlp.waitForTrace(traceId, 4));
  assert.deepEqual(spans.map((s) => `${s.serviceName} ${s.kind}`), ["a.default CLIENT", "b.default SERVER", "b.default CLIENT", "c.default SERVER"]);
  assert.equal(spans[0]!.parentSpanId, undefined, "a's outbound span starts the trace");
  for (let i = 1; i < 4; i++) assert.equal(spans[i]!.parentSpanId, spans[i - 1]!.spanId);
  assert.equal(hb!.received.traceparent, `00-${traceId}-${spans[1]!.spanId}-01`, "b's app sees b's SERVER span as its parent");
  assert.equal(tp[2], spans[3]!.spanId, "c's app sees c's SERVER span");
  for (const s of spans) {
    assert.equal(s.attributes["http.status_code"], "200");
    assert.equal(s.status, "UNSET");
    assert.equal(s.attributes["guid:x-request-id"], hc!.received["x-request-id"], "one x-request-id along the way");
    assert.equal(s.attributes["istio.canonical_service"], s.serviceName.split(".")[0]);
    assert.equal(s.attributes["istio.namespace"], "default");
  }
  assert.equal(spans[0]!.name, "b.default.svc.cluster.local:8080/*");
  assert.equal(spans[0]!.attributes.upstream_cluster, "outbound|8080||b.default.svc.cluster.local");
  assert.ok(otlp.posts.every((p) => p.path === "/v1/traces" && p.contentType === "application/json"));

  // 2. A request that arrives with a trace context continues it.
  const parentTrace = "0af7651916cd43dd8448eb211c80319c";
  const parentSpan = "b7ad6b7169203331";
  const continued = await callA("", { traceparent: `00-${parentTrace}-${parentSpan}-01` });
  assert.equal(continued.status, 200);
  const cont = chain(await otlp.waitForTrace(parentTrace, 4));
  assert.equal(cont.length, 4);
  assert.equal(cont[0]!.parentSpanId, parentSpan, "a's CLIENT span is a child of the caller's span");

  // 3. An error at c: c's SERVER span and everyone above it carry 500 and ERROR.
  const failed = await callA("?fail=c");
  assert.equal(failed.status, 500);
  const failTrace = /^00-([0-9a-f]{32})-/.exec(hops(failed.body)[2]!.received.traceparent ?? "")![1]!;
  const failSpans = chain(await otlp.waitForTrace(failTrace, 4));
  assert.deepEqual(failSpans.map((s) => [s.attributes["http.status_code"], s.status, s.attributes.error]), Array(4).fill(["500", "ERROR", "true"]));

  // 4. Sampling 0: nothing exported, yet the context (sampled 00) reaches c.
  await applyTelemetry("otel", 0, "envoy.tracers.opentelemetry");
  const quiet = await callA();
  const qtp = /^00-([0-9a-f]{32})-[0-9a-f]{16}-00$/.exec(hops(quiet.body)[2]!.received.traceparent ?? "");
  assert.ok(qtp, `c got an unsampled traceparent: ${JSON.stringify(hops(quiet.body)[2]!.received)}`);
  assert.equal(hops(quiet.body)[1]!.received.traceparent?.slice(3, 35), qtp[1], "the same trace id at b and c");
  // A forced trace after it goes through the same queues: once it has arrived, anything
  // exported for the unsampled request would have arrived before it.
  const forced = await callA("", { "x-envoy-force-trace": "true" });
  const forcedTrace = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(hops(forced.body)[2]!.received.traceparent ?? "")?.[1];
  assert.ok(forcedTrace, "x-envoy-force-trace samples at 0 %");
  assert.equal((await otlp.waitForTrace(forcedTrace, 4)).length, 4);
  assert.deepEqual(otlp.spans.filter((s) => s.traceId === qtp[1]), [], "no span of the unsampled request");

  // 5. The Zipkin provider: Zipkin JSON v2 with B3 ids, and B3 headers to the apps.
  await applyTelemetry("zipkin", 100, "envoy.tracers.zipkin");
  const z = await callA();
  assert.equal(z.status, 200);
  const zc = hops(z.body)[2]!.received;
  assert.match(zc["x-b3-traceid"] ?? "", /^[0-9a-f]{32}$/);
  assert.equal(zc["x-b3-sampled"], "1");
  const zspans = chain(await zipkin.waitForTrace(zc["x-b3-traceid"]!, 4));
  assert.deepEqual(zspans.map((s) => `${s.format} ${s.serviceName} ${s.kind}`), ["zipkin a.default CLIENT", "zipkin b.default SERVER", "zipkin b.default CLIENT", "zipkin c.default SERVER"]);
  assert.equal(zc["x-b3-spanid"], zspans[3]!.spanId);
  assert.equal(zc["x-b3-parentspanid"], zspans[2]!.spanId);
  assert.ok(zipkin.posts.every((p) => p.path === "/api/v2/spans" && p.contentType === "application/json"));

  // 6. OTLP over gRPC: the same four spans arrive at a gRPC TraceService, with the metadata.
  await applyTelemetry("otel-grpc", 100, "envoy.tracers.opentelemetry");
  const g = await callA();
  assert.equal(g.status, 200);
  const gTrace = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(hops(g.body)[2]!.received.traceparent ?? "")?.[1];
  assert.ok(gTrace, "W3C context with the gRPC provider too");
  const gspans = chain(await otlpGrpc.waitForTrace(gTrace, 4));
  assert.deepEqual(gspans.map((s) => `${s.serviceName} ${s.kind}`), ["a.default CLIENT", "b.default SERVER", "b.default CLIENT", "c.default SERVER"]);
  for (let i = 1; i < 4; i++) assert.equal(gspans[i]!.parentSpanId, gspans[i - 1]!.spanId);
  assert.equal(gspans[3]!.attributes["http.status_code"], "200");
  assert.ok(otlpGrpc.calls.length > 0 && otlpGrpc.calls.every((m) => m["x-tenant"] === "team-grpc"), JSON.stringify(otlpGrpc.calls));
  assert.deepEqual([...otlp.errors, ...zipkin.errors, ...otlpGrpc.errors], []);
  // The control plane took meshconfig.yaml without a complaint, and no sidecar lost spans.
  assert.doesNotMatch(mesh.output(), /mesh config: |tracing: .*(is not|has no)|did not accept spans/);
});
