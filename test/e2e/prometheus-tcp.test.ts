// A real Prometheus (Debian's package) scrapes three sidecars in the secure mode (mesh-wide
// STRICT mTLS) and answers the Istio queries people run for TCP and gRPC services:
//   - TCP bytes by destination service, from a client tunnelling to a TCP echo service; a
//     long-lived connection's bytes show while it is still open, and both reporters carry
//     the peer identities their mTLS certificates prove;
//   - gRPC calls through two sidecars, labelled with the gRPC status the server returned
//     (5 NOT_FOUND), by both reporters; a Telemetry override on the server adds a tag.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { waitFor } from "../support/http.ts";
import { startSecureControl, startSecureSidecar, type SecureControl } from "../support/secure-mesh.ts";
import { byLabel, startPrometheus, type PrometheusServer, type Sample } from "../support/prometheus-server.ts";
import { openTunnel, readUntil, startTcpEcho } from "../../src/proxy/listen/tcp-test-kit.ts";

const ECHO = { pod: "127.153.1.1", app: "127.153.2.1" };
const GREETER = { pod: "127.153.1.2", app: "127.153.2.2" };
const CLIENT = { pod: "127.153.1.3", app: "127.153.2.3" };
const GRPC_PORT = 7070;
const SPIFFE = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;

const dir = mkdtempSync(join(tmpdir(), "mizzen-prometheus-tcp-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
let control: SecureControl;
let prom: PrometheusServer;

writeFileSync(join(dir, "services.yaml"), `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
---
apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: echo }
  ports: [{ name: tcp-echo, port: 9000 }]
---
apiVersion: v1
kind: Service
metadata: { name: greeter }
spec:
  selector: { app: greeter }
  ports: [{ name: grpc, port: ${GRPC_PORT} }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: greeter-metrics, namespace: default }
spec:
  selector: { matchLabels: { app: greeter } }
  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: { metric: REQUEST_COUNT, mode: SERVER }
      tagOverrides:
        team: { value: "'payments'" }
        source_version: { operation: REMOVE }
`);

interface Msg { text: string }
const toBuf = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const fromBuf = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const GREETER_SERVICE = {
  hello: { path: "/mizzen.test.Greeter/Hello", requestStream: false, responseStream: false, requestSerialize: toBuf, requestDeserialize: fromBuf, responseSerialize: toBuf, responseDeserialize: fromBuf },
} satisfies grpc.ServiceDefinition;
const GreeterClient = grpc.makeGenericClientConstructor(GREETER_SERVICE, "Greeter");
type Greeter = grpc.Client & { hello(m: Msg, cb: (err: grpc.ServiceError | null, r?: Msg) => void): void };

function hello(c: Greeter, text: string): Promise<grpc.status> {
  return new Promise((resolve) => c.hello({ text }, (err) => resolve(err ? err.code : grpc.status.OK)));
}

before(async () => {
  control = await startSecureControl({ configDir: dir, dataDir: join(dir, "data") });
  cleanups.push(() => control.cp.close());
  const echo = await startTcpEcho(ECHO.app, 9000, "echo");
  cleanups.push(() => echo.close());
  const server = new grpc.Server();
  server.addService(GREETER_SERVICE, {
    hello: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      if (call.request.text === "missing") cb({ code: grpc.status.NOT_FOUND, details: "nobody called missing" });
      else cb(null, { text: `hello ${call.request.text}` });
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`${GREETER.app}:${GRPC_PORT}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  cleanups.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  for (const [name, pod, ports] of [["echo", ECHO, "tcp-echo:9000"], ["greeter", GREETER, `grpc:${GRPC_PORT}`], ["client", CLIENT, ""]] as const) {
    const s = await startSecureSidecar(control, { ip: pod.pod, name, ports, appAddress: pod.app });
    cleanups.push(() => s.close());
  }
  prom = await startPrometheus({ sidecars: [ECHO, GREETER, CLIENT].map((p) => `${p.pod}:15090`) });
  cleanups.push(() => prom.stop());
  await prom.waitAllUp(3);
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function echoOnce(s: Socket, text: string): Promise<void> {
  s.write(text);
  assert.equal(await readUntil(s, `echo:${text}`), `echo:${text}`);
}

test("TCP: bytes by destination service from both reporters, counted while a connection is open, with mTLS identities", { timeout: 60_000 }, async () => {
  // The first call also waits for both sidecars to have their config and endpoints.
  const long = await waitFor("a tunnel to the echo service through both sidecars", async () => {
    const s = await openTunnel(CLIENT.pod, 15001, "echo:9000");
    try {
      await echoOnce(s, "warm-up");
      return s;
    } catch {
      s.destroy();
      return undefined;
    }
  }, 30_000, 200);
  cleanups.push(() => {
    long.destroy();
  });
  let written = "warm-up".length;
  for (let i = 0; i < 5; i++) {
    await echoOnce(long, `chunk ${i}`);
    written += `chunk ${i}`.length;
  }

  // The connection is still open, and Prometheus already has every byte it carried (a tunnel
  // that failed while the sidecars were starting carried none to the application).
  let seen = "";
  await waitFor("the open connection's bytes at both reporters", async () => {
    const r = byLabel(await prom.query('sum(istio_tcp_received_bytes_total{destination_service_name="echo"}) by (reporter)'), "reporter");
    seen = JSON.stringify([...r]);
    return r.get("source") === written && r.get("destination") === written;
  }, 15_000, 250).catch((err) => {
    throw new Error(`${(err as Error).message}: want ${written} bytes, got ${seen}`);
  });

  // Short connections too, over a few seconds so rate() has two scrapes to compare.
  const until = Date.now() + 3_000;
  let short = 0;
  while (Date.now() < until) {
    const s = await openTunnel(CLIENT.pod, 15001, "echo:9000");
    await echoOnce(s, `short ${short++}`);
    s.end();
    await new Promise((r) => s.once("close", r).resume());
    await echoOnce(long, "tick");
    await new Promise((r) => setTimeout(r, 20));
  }

  let last: Sample[] = [];
  const rates = await waitFor("TCP byte rate by destination service", async () => {
    last = await prom.query("sum(rate(istio_tcp_sent_bytes_total[1m])) by (destination_service)");
    const r = byLabel(last, "destination_service");
    return (r.get("echo") ?? 0) > 0 ? r : undefined;
  }, 15_000, 250).catch((err) => {
    throw new Error(`${(err as Error).message}\nlast: ${JSON.stringify(last)}`);
  });
  assert.ok(rates.get("echo")! > 0);

  // Identities from the certificates: each side names the other's SPIFFE ID and namespace.
  const dest = await prom.query('istio_tcp_connections_opened_total{reporter="destination"}');
  assert.ok(dest.length > 0, "the echo sidecar reports as destination");
  for (const s of dest) {
    assert.equal(s.metric.source_principal, SPIFFE("client"));
    assert.equal(s.metric.destination_principal, SPIFFE("echo"));
    assert.equal(s.metric.source_workload_namespace, "default");
    assert.equal(s.metric.connection_security_policy, "mutual_tls");
    assert.equal(s.metric.destination_workload, "echo");
    assert.equal(s.metric.destination_service, "echo.default.svc.cluster.local", "from the SNI the client sidecar sent");
    assert.equal(s.metric.request_protocol, "tcp");
  }
  const src = await prom.query('istio_tcp_connections_opened_total{reporter="source"}');
  assert.ok(src.length > 0, "the client sidecar reports as source");
  for (const s of src) {
    assert.equal(s.metric.source_workload, "client");
    assert.equal(s.metric.source_principal, SPIFFE("client"));
    assert.equal(s.metric.destination_principal, SPIFFE("echo"));
    assert.equal(s.metric.destination_workload_namespace, "default");
    assert.equal(s.metric.response_flags, "-");
  }
  // Every connection is counted by both sidecars (the last scrape may lag a second behind);
  // the long one is open still.
  let counts = "";
  await waitFor("opened and closed connections counted at both reporters", async () => {
    const opened = byLabel(await prom.query('sum(istio_tcp_connections_opened_total{response_flags="-"}) by (reporter)'), "reporter");
    const closed = byLabel(await prom.query('sum(istio_tcp_connections_closed_total{response_flags="-"}) by (reporter)'), "reporter");
    counts = JSON.stringify({ opened: [...opened], closed: [...closed], short });
    return ["source", "destination"].every((r) => (opened.get(r) ?? 0) >= short + 1 && (closed.get(r) ?? 0) >= short);
  }, 15_000, 250).catch((err) => {
    throw new Error(`${(err as Error).message}: ${counts}`);
  });
  console.log(`# prometheus tcp: ${short} short connections; byte rate to echo ${rates.get("echo")!.toFixed(1)} B/s`);
});

test("gRPC: grpc_response_status carries the server's NOT_FOUND at both reporters", { timeout: 60_000 }, async () => {
  const c = new GreeterClient(`${CLIENT.pod}:15001`, grpc.credentials.createInsecure(), { "grpc.default_authority": `greeter:${GRPC_PORT}` }) as unknown as Greeter;
  cleanups.push(() => c.close());
  await waitFor("a first gRPC call through both sidecars", async () => (await hello(c, "warm-up")) === grpc.status.OK, 30_000, 200);
  const until = Date.now() + 3_000;
  const codes = new Map<grpc.status, number>();
  while (Date.now() < until) {
    for (const text of ["missing", "world"]) {
      const code = await hello(c, text);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok((codes.get(grpc.status.NOT_FOUND) ?? 0) > 5 && (codes.get(grpc.status.OK) ?? 0) > 5, `calls: ${JSON.stringify([...codes])}`);

  const q = 'sum(rate(istio_requests_total{request_protocol="grpc",destination_service_name="greeter"}[1m])) by (reporter, grpc_response_status, response_code)';
  let last: Sample[] = [];
  await waitFor("gRPC request rates by status at both reporters", async () => {
    last = await prom.query(q);
    const has = (reporter: string, status: string) => last.some((s) => s.metric.reporter === reporter && s.metric.grpc_response_status === status && Number(s.value[1]) > 0);
    return has("source", "5") && has("destination", "5") && has("source", "0") && has("destination", "0");
  }, 15_000, 250).catch((err) => {
    throw new Error(`${(err as Error).message}\nlast: ${JSON.stringify(last)}`);
  });
  for (const s of last.filter((x) => x.metric.grpc_response_status === "5")) assert.equal(s.metric.response_code, "200", "gRPC errors travel in trailers of an HTTP 200");
  // The Telemetry override reached the greeter's sidecar: its inbound request count carries the
  // team tag and lost source_version; its other metrics and the client's reports are untouched.
  const served = await prom.query('istio_requests_total{reporter="destination",destination_service_name="greeter"}');
  assert.ok(served.length > 0 && served.every((s) => s.metric.team === "payments" && s.metric.source_version === undefined), JSON.stringify(served.map((s) => s.metric)));
  const durations = await prom.query('istio_request_duration_milliseconds_count{reporter="destination",destination_service_name="greeter"}');
  assert.ok(durations.length > 0 && durations.every((s) => s.metric.team === undefined && s.metric.source_version === "unknown"));
  const sent = await prom.query('istio_requests_total{reporter="source",destination_service_name="greeter"}');
  assert.ok(sent.length > 0 && sent.every((s) => s.metric.team === undefined));
  // The error ratio a gRPC dashboard computes: non-OK over all.
  const ratio = await prom.query('sum(rate(istio_requests_total{reporter="destination",destination_service_name="greeter",grpc_response_status!="0"}[1m])) / sum(rate(istio_requests_total{reporter="destination",destination_service_name="greeter"}[1m]))');
  const r = Number(ratio[0]?.value[1]);
  assert.ok(r > 0 && r < 1, `gRPC error ratio ${r}`);
  console.log(`# prometheus grpc: ${JSON.stringify([...codes])}; error ratio ${r.toFixed(2)}`);
});
