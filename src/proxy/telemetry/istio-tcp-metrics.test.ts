// Istio's TCP metrics from two sidecars in one process: a client's outbound tcp_proxy ->
// the server's inbound tcp_proxy -> an echo application. Both report, bytes show while the
// connection is open, a failed connect is flagged, and istio.stats overrides act per chain.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { ProxyNode } from "../../xds/node.ts";
import { TYPE, type Cluster, type Listener, type NetworkFilter } from "../../xds/envoy-types.ts";
import { toStruct } from "../../xds/struct.ts";
import { createDataPlane, type DataPlane } from "../main.ts";
import { cla, deadPort, edsCluster, feed, hcmListener, routeConfig, toCluster, vhost } from "../test-kit.ts";
import { openTunnel, readUntil, startTcpEcho, type TcpServer } from "../listen/tcp-test-kit.ts";
import { eventually, matching, one } from "./metrics-test-kit.ts";
import { STATS_CONFIG_TYPE_URL } from "./stats-config.ts";
import { peerFromPrincipal, serviceFromSni } from "./identity-labels.ts";

function node(name: string, app: string): ProxyNode {
  return { id: `sidecar~127.0.0.1~${name}.default~default.svc.cluster.local`, type: "sidecar", ip: "127.0.0.1", name, namespace: "default", labels: { app, version: "v1" }, serviceAccount: app, ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false };
}

function withService(c: Cluster, name: string): Cluster {
  const s = (v: string) => ({ string_value: v });
  return { ...c, metadata: { filter_metadata: { istio: { fields: { services: { list_value: { values: [{ struct_value: { fields: { host: s(`${name}.default.svc.cluster.local`), name: s(name), namespace: s("default") } } }] } } } } } } };
}

function tcp(statPrefix: string, cluster: string): NetworkFilter {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TYPE.tcpProxy, stat_prefix: statPrefix, cluster } as unknown as NetworkFilter["typed_config"] };
}

function stats(value: Record<string, unknown>): NetworkFilter {
  return { name: "istio.stats", typed_config: { "@type": "type.googleapis.com/udpa.type.v1.TypedStruct", type_url: STATS_CONFIG_TYPE_URL, value: toStruct(value) } as unknown as NetworkFilter["typed_config"] };
}

function listener(name: string, inbound: boolean, filters: NetworkFilter[]): Listener {
  return { name, address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, traffic_direction: inbound ? "INBOUND" : "OUTBOUND", filter_chains: [{ filters }] };
}

let app: TcpServer;
let server: DataPlane;
let client: DataPlane;
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

before(async () => {
  app = await startTcpEcho("127.0.0.1", 0, "app");
  cleanups.push(() => app.close());
  server = createDataPlane({ node: node("echo-v1", "echo"), drainMs: 100, accessLog: () => {} });
  cleanups.push(() => server.close());
  assert.equal(await feed(server, {
    clusters: [{ name: "inbound|9000||", type: "STATIC", connect_timeout: { seconds: 1 }, load_assignment: cla("inbound|9000||", [{ port: app.port }]) }],
    listeners: [listener("inbound|9000", true, [tcp("inbound|9000||", "inbound|9000||")])],
  }), null);
  const serverPort = server.listeners.port("inbound|9000")!;
  client = createDataPlane({ node: node("client-v1", "client"), drainMs: 100, accessLog: () => {} });
  cleanups.push(() => client.close());
  const echo = "outbound|9000||echo.default.svc.cluster.local";
  const tuned = "outbound|9000||tuned.default.svc.cluster.local";
  const quiet = "outbound|9000||quiet.default.svc.cluster.local";
  const dead = "outbound|9000||dead.default.svc.cluster.local";
  assert.equal(await feed(client, {
    clusters: [withService(edsCluster(echo), "echo"), withService(edsCluster(tuned), "tuned"), withService(edsCluster(quiet), "quiet"), withService(edsCluster(dead), "dead"),
      { name: "PassthroughCluster", type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: { seconds: 1 } }],
    endpoints: [cla(echo, [{ port: serverPort }]), cla(tuned, [{ port: serverPort }]), cla(quiet, [{ port: serverPort }]), cla(dead, [{ port: await deadPort() }])],
    listeners: [
      listener("echo", false, [tcp(echo, echo)]),
      listener("tuned", false, [stats({ metrics: [{ name: "tcp_connections_opened_total", drop: true }, { tags_to_remove: ["destination_service_name"], dimensions: { mesh: "'blue'" } }] }), tcp(tuned, tuned)]),
      listener("quiet", false, [stats({ metrics: [{ drop: true }] }), tcp(quiet, quiet)]),
      listener("dead", false, [tcp(dead, dead)]),
      hcmListener("http_proxy", { routeConfig: routeConfig("http_proxy", [vhost("echo", ["echo"], [toCluster(echo)])]) }),
    ],
  }), null);
});

async function open(listenerName: string): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port: client.listeners.port(listenerName)! });
  await new Promise((r) => s.once("connect", r));
  return s;
}

async function closeSocket(s: net.Socket): Promise<void> {
  s.end();
  await new Promise((r) => s.once("close", r).resume());
}

test("both reporters count a TCP connection: bytes while it is open, then opened and closed", async () => {
  const s = await open("echo");
  s.write("hello");
  assert.equal(await readUntil(s, "hello"), "app:hello");
  const source = { reporter: "source", destination_service: "echo.default.svc.cluster.local" };
  const dest = { reporter: "destination", source_workload: "unknown" };
  // Still open: the scrape brings the bytes up to date.
  let c = client.prometheus();
  assert.equal(one(c, "istio_tcp_received_bytes_total", source)?.value, 5, c);
  assert.equal(one(c, "istio_tcp_sent_bytes_total", source)?.value, 9);
  assert.equal(one(c, "istio_tcp_connections_opened_total", source)?.value, 1);
  assert.equal(one(c, "istio_tcp_connections_closed_total", source)?.value, 0);
  const labels = one(c, "istio_tcp_sent_bytes_total", source)!.labels;
  assert.equal(labels.request_protocol, "tcp");
  assert.equal(labels.response_flags, "-");
  assert.equal(labels.connection_security_policy, "unknown", "the source reports unknown, as Istio");
  assert.equal(labels.source_workload, "client-v1");
  assert.equal(labels.destination_service_name, "echo");
  assert.equal(labels.destination_service_namespace, "default");
  assert.equal(labels.destination_workload, "unknown", "no header exchange on raw TCP and no mTLS here: the peer is unknown");
  assert.equal(labels.response_code, undefined, "TCP metrics carry no response_code");
  assert.equal(labels.grpc_response_status, undefined);
  let sv = server.prometheus();
  assert.equal(one(sv, "istio_tcp_received_bytes_total", dest)?.value, 5, sv);
  assert.equal(one(sv, "istio_tcp_sent_bytes_total", dest)?.value, 9);
  const d = one(sv, "istio_tcp_connections_opened_total", dest)!.labels;
  assert.equal(d.destination_workload, "echo-v1");
  assert.equal(d.destination_app, "echo");
  assert.equal(d.connection_security_policy, "none", "plaintext, reported by the destination");
  // More bytes on the same connection are counted without it closing.
  s.write("again!");
  await readUntil(s, "app:again!");
  c = client.prometheus();
  assert.equal(one(c, "istio_tcp_received_bytes_total", source)?.value, 11);
  assert.equal(one(c, "istio_tcp_sent_bytes_total", source)?.value, 19);
  await closeSocket(s);
  await eventually("both sides counted the close", () =>
    one(client.prometheus(), "istio_tcp_connections_closed_total", source)?.value === 1 && one(server.prometheus(), "istio_tcp_connections_closed_total", dest)?.value === 1);
  sv = server.prometheus();
  assert.equal(one(sv, "istio_tcp_sent_bytes_total", dest)?.value, 19, "the close does not count bytes twice");
  assert.equal(client.telemetry!.tcp.openConnections, 0);
});

test("a connection whose upstream refuses is opened and closed with flag UF", async () => {
  const s = net.connect({ host: "127.0.0.1", port: client.listeners.port("dead")! });
  await new Promise((r) => s.once("close", r).resume().on("error", () => {}));
  const want = { reporter: "source", destination_service: "dead.default.svc.cluster.local", response_flags: "UF" };
  await eventually("the UF connection", () => one(client.prometheus(), "istio_tcp_connections_closed_total", want)?.value === 1);
  assert.equal(one(client.prometheus(), "istio_tcp_connections_opened_total", want)?.value, 1);
  assert.equal(one(client.prometheus(), "istio_tcp_sent_bytes_total", want)?.value, 0);
});

test("istio.stats before a tcp_proxy: a dropped metric, a removed tag, a literal tag; all off", async () => {
  for (const name of ["tuned", "quiet"]) {
    const s = await open(name);
    s.write("x");
    await readUntil(s, "app:x");
    await closeSocket(s);
  }
  await eventually("the tuned connection closed", () => matching(client.prometheus(), "istio_tcp_connections_closed_total", { mesh: "blue" }).length === 1);
  const c = client.prometheus();
  const closed = one(c, "istio_tcp_connections_closed_total", { mesh: "blue" })!;
  assert.equal(closed.value, 1);
  assert.equal(closed.labels.destination_service, "tuned.default.svc.cluster.local");
  assert.equal(closed.labels.destination_service_name, undefined, "removed by the override");
  assert.equal(one(c, "istio_tcp_sent_bytes_total", { mesh: "blue" })?.value, 5, "app:x");
  assert.equal(matching(c, "istio_tcp_connections_opened_total", { mesh: "blue" }).length, 0, "opened is dropped for this chain");
  assert.equal(matching(c, "istio_tcp_connections_opened_total", { destination_service: "tuned.default.svc.cluster.local" }).length, 0);
  for (const m of ["istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total", "istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total"]) {
    assert.equal(matching(c, m, { destination_service: "quiet.default.svc.cluster.local" }).length, 0, `${m}: metrics are off on the quiet chain`);
  }
  // The quiet connection still went through, and the server (no overrides) reported it.
  assert.ok((one(server.prometheus(), "istio_tcp_connections_closed_total", { reporter: "destination" })?.value ?? 0) >= 3);
});

test("TLS passed through a CONNECT tunnel to PassthroughCluster is reported with the tunnel's host", async () => {
  const s = await openTunnel("127.0.0.1", client.listeners.port("http_proxy")!, `127.0.0.1:${app.port}`);
  // A TLS record header first (what the tunnel looks at), then bytes the echo returns.
  let got = 0;
  s.on("data", (c: Buffer) => (got += c.length)).resume();
  s.write(Buffer.from([0x16, 0x03, 0x01]));
  s.write("tls?");
  await eventually("the echo", () => got >= 11);
  const want = { reporter: "source", destination_service_name: "PassthroughCluster" };
  assert.equal(one(client.prometheus(), "istio_tcp_received_bytes_total", want)?.value, 7, "counted while open");
  await closeSocket(s);
  await eventually("the passthrough connection closed", () => one(client.prometheus(), "istio_tcp_connections_closed_total", want)?.value === 1);
  const c = client.prometheus();
  assert.equal(one(c, "istio_tcp_connections_opened_total", want)?.value, 1);
  assert.equal(one(c, "istio_tcp_connections_opened_total", want)?.labels.destination_service, "127.0.0.1");
  assert.equal(one(c, "istio_tcp_sent_bytes_total", want)?.value, got, "every byte the client got back");
});

test("identity without headers: the SPIFFE ID names the peer's namespace, the SNI the service", () => {
  assert.equal(peerFromPrincipal("spiffe://cluster.local/ns/shop/sa/cart").namespace, "shop");
  assert.equal(peerFromPrincipal("spiffe://cluster.local/ns/shop/sa/cart").workload, "unknown");
  assert.equal(peerFromPrincipal("not-a-spiffe-id").namespace, "unknown");
  assert.equal(peerFromPrincipal(undefined).namespace, "unknown");
  assert.deepEqual(serviceFromSni("outbound_.9000_.v1_.echo.default.svc.cluster.local", "default"), { host: "echo.default.svc.cluster.local", name: "echo", namespace: "default" });
  assert.deepEqual(serviceFromSni("outbound_.443_._.api.example.com", "default"), { host: "api.example.com", name: "api.example.com", namespace: "unknown" });
  assert.equal(serviceFromSni("www.example.com", "default").host, "unknown");
  assert.equal(serviceFromSni(undefined, "default").host, "unknown");
});
