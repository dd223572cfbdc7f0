// tcp_proxy and CONNECT hand-off over loopback sockets: a tunnel whose authority names a
// virtual listener's service is proxied as TCP (weighted clusters, one upstream connection per
// tunnel), TLS is routed by its SNI without being terminated, an auto-detected port serves
// HTTP as HTTP and a server-first protocol after the detection timeout, and a bound listener
// with a tcp_proxy chain serves plain connections. Failures close the connection, flagged.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { TYPE, type FilterChain, type Listener, type NetworkFilter, type TcpProxy } from "../../xds/envoy-types.ts";
import { cla, deadPort, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";
import { openTunnel, readUntil, selfSignedCert, startBannerServer, startTcpEcho, startTlsServer, type TcpServer } from "./tcp-test-kit.ts";

const ACCESS_LOG = [{ name: "envoy.access_loggers.file", typed_config: { "@type": TYPE.fileAccessLog, path: "/dev/stdout" } }];

function tcpFilter(p: TcpProxy): NetworkFilter {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TYPE.tcpProxy, access_log: ACCESS_LOG, ...p } as unknown as NetworkFilter["typed_config"] };
}

function virtualListener(port: number, chains: FilterChain[], inspectors: string[] = [], timeout?: number): Listener {
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: "0.0.0.0", port_value: port } },
    bind_to_port: { value: false },
    traffic_direction: "OUTBOUND",
    ...(inspectors.length ? { listener_filters: inspectors.map((n) => ({ name: `envoy.filters.listener.${n}`, typed_config: { "@type": n === "tls_inspector" ? TYPE.tlsInspector : TYPE.httpInspector } })) } : {}),
    ...(timeout !== undefined ? { listener_filters_timeout: { nanos: timeout * 1e6 }, continue_on_listener_filters_timeout: true } : {}),
    filter_chains: chains,
  };
}

let v1: TcpServer, v2: TcpServer, banner: TcpServer, tlsA: TcpServer, tlsB: TcpServer, web: Upstream;
let plane: DataPlane & { port(l: string): number };
const log: string[] = [];

before(async () => {
  [v1, v2, banner] = await Promise.all([startTcpEcho("127.0.0.1", 0, "v1"), startTcpEcho("127.0.0.1", 0, "v2"), startBannerServer("127.0.0.1", 0, "220 banner ready")]);
  const cert = selfSignedCert(["a.test", "b.test"]);
  [tlsA, tlsB] = await Promise.all([startTlsServer("127.0.0.1", 0, "A", cert), startTlsServer("127.0.0.1", 0, "B", cert)]);
  web = await startUpstream("web");
  const dead = await deadPort();
  const outbound = hcmListener("http_proxy", { rds: "http_proxy", accessLog: true });
  outbound.use_original_dst = { value: true };
  const clusters = ["v1", "v2", "banner", "a", "b", "dead", "web"].map((n) => edsCluster(`c-${n}`));
  const eps: Record<string, number> = { v1: v1.port, v2: v2.port, banner: banner.port, a: tlsA.port, b: tlsB.port, dead, web: web.port };
  const inbound: Listener = { name: "inbound|tcp", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, traffic_direction: "INBOUND", filter_chains: [{ filters: [tcpFilter({ stat_prefix: "inbound|tcp", cluster: "c-v1" })] }] };
  plane = await startPlane({
    clusters,
    endpoints: Object.entries(eps).map(([n, port]) => cla(`c-${n}`, [{ port }])),
    listeners: [
      outbound,
      inbound,
      virtualListener(9000, [
        { filter_chain_match: { server_names: ["echo", "echo.default.svc.cluster.local"] }, filters: [tcpFilter({ stat_prefix: "echo", weighted_clusters: { clusters: [{ name: "c-v1", weight: 50 }, { name: "c-v2", weight: 50 }] } })] },
        { filter_chain_match: { server_names: ["nowhere"] }, filters: [tcpFilter({ stat_prefix: "nowhere", cluster: "c-missing" })] },
        { filter_chain_match: { server_names: ["dead"] }, filters: [tcpFilter({ stat_prefix: "dead", cluster: "c-dead" })] },
      ]),
      virtualListener(7000, [
        { filter_chain_match: { server_names: ["banner"], application_protocols: ["http/1.1", "h2c"] }, filters: outbound.filter_chains![0]!.filters },
        { filter_chain_match: { server_names: ["banner"] }, filters: [tcpFilter({ stat_prefix: "banner", cluster: "c-banner" })] },
      ], ["http_inspector"], 50),
      virtualListener(443, [
        { filter_chain_match: { server_names: ["a.test"], transport_protocol: "tls" }, filters: [tcpFilter({ stat_prefix: "sni-a", cluster: "c-a" })] },
        { filter_chain_match: { server_names: ["*.b.test", "b.test"], transport_protocol: "tls" }, filters: [tcpFilter({ stat_prefix: "sni-b", cluster: "c-b" })] },
      ], ["tls_inspector"]),
    ],
    routes: [routeConfig("http_proxy", [vhost("banner", ["banner:7000", "banner"], [toCluster("c-web")]), vhost("web", ["web:8080"], [toCluster("c-web")])])],
  }, { accessLog: log });
});

after(async () => {
  await plane.close();
  await Promise.all([v1.close(), v2.close(), banner.close(), tlsA.close(), tlsB.close(), web.close()]);
});

const proxyPort = (): number => plane.port("http_proxy");

test("CONNECT to a TCP service is proxied to one of its weighted clusters, one upstream connection per tunnel", async () => {
  const seen = new Set<string>();
  const before = v1.connections + v2.connections;
  for (let i = 0; i < 40; i++) {
    const s = await openTunnel("127.0.0.1", proxyPort(), i % 2 ? "echo:9000" : "echo.default.svc.cluster.local:9000");
    s.write(`ping ${i}`);
    const got = await readUntil(s, `ping ${i}`);
    seen.add(got.split(":")[0]!);
    s.end();
    await new Promise((r) => s.once("close", r).resume());
  }
  assert.deepEqual([...seen].sort(), ["v1", "v2"], "both weighted clusters get connections");
  assert.equal(v1.connections + v2.connections - before, 40, "one upstream connection per tunnel");
  assert.equal(plane.stats.get("tcp.echo.downstream_cx_total"), 40);
  assert.ok(plane.stats.get("tcp.echo.downstream_cx_rx_bytes_total") >= 40 * "ping 0".length);
  assert.ok(plane.stats.get("cluster.c-v1.upstream_cx_rx_bytes_total") + plane.stats.get("cluster.c-v2.upstream_cx_rx_bytes_total") > 0);
  const line = log.find((l) => l.includes("c-v1") || l.includes("c-v2"));
  assert.match(line ?? "", /"- - -" 0 - - - "-" \d+ \d+ /, `a TCP access log line: ${line}`);
});

test("bytes sent before the upstream is connected and a half-close both arrive", async () => {
  const s = await openTunnel("127.0.0.1", proxyPort(), "echo:9000");
  s.end("early and last");
  const got = await new Promise<string>((resolve) => {
    let text = "";
    s.on("data", (c: Buffer) => (text += c));
    s.once("close", () => resolve(text));
    s.resume();
  });
  assert.match(got, /^v[12]:early and last$/);
});

test("TLS through CONNECT goes by the ClientHello's SNI, end to end encrypted (the proxy does not terminate)", async () => {
  for (const [sni, want] of [["a.test", "A"], ["b.test", "B"], ["x.b.test", "B"]] as const) {
    const tunnel = await openTunnel("127.0.0.1", proxyPort(), `${sni}:443`);
    const secure = tls.connect({ socket: tunnel, servername: sni, rejectUnauthorized: false });
    const hello = await readUntil(secure, "\n");
    assert.equal(hello, `${want} sni=${sni}\n`, "the upstream's own TLS server saw the client's SNI");
    secure.end();
  }
  assert.equal(plane.stats.get("tcp.sni-a.downstream_cx_total"), 1);
  assert.equal(plane.stats.get("tcp.sni-b.downstream_cx_total"), 2);
});

test("an auto-detected port: HTTP is routed as HTTP, a server-first protocol goes to TCP after the detection timeout", async () => {
  const httpTunnel = await openTunnel("127.0.0.1", proxyPort(), "banner:7000");
  httpTunnel.write("GET /hello HTTP/1.1\r\nHost: banner:7000\r\nConnection: close\r\n\r\n");
  const reply = await readUntil(httpTunnel, '"id":"web"');
  assert.match(reply, /^HTTP\/1\.1 200/);
  httpTunnel.destroy();
  const silent = await openTunnel("127.0.0.1", proxyPort(), "banner:7000");
  assert.equal(await readUntil(silent, "\n"), "220 banner ready\n", "the server spoke first once the sidecar stopped waiting");
  silent.write("QUIT");
  assert.equal(await readUntil(silent, "got QUIT"), "got QUIT");
  silent.destroy();
});

test("a bound listener with a tcp_proxy chain serves plain connections", async () => {
  const s = net.connect(plane.port("inbound|tcp"), "127.0.0.1");
  s.write("direct");
  assert.equal(await readUntil(s, "direct"), "v1:direct");
  s.destroy();
});

test("a missing cluster (NC) and a dead endpoint (UF) close the tunnel, counted and logged", async () => {
  for (const [authority, flag] of [["nowhere:9000", "NC"], ["dead:9000", "UF"]] as const) {
    const s = await openTunnel("127.0.0.1", proxyPort(), authority);
    s.write("anything");
    await new Promise((r) => s.once("close", r).resume());
    const line = log.find((l) => l.includes(flag === "NC" ? "c-missing" : "c-dead"));
    assert.match(line ?? "", new RegExp(`"- - -" 0 ${flag} `), `${authority}: ${line}`);
  }
  assert.equal(plane.stats.get("tcp.nowhere.downstream_cx_no_route"), 1);
  assert.equal(plane.stats.get("cluster.c-dead.upstream_cx_connect_fail"), 1);
});

test("an authority no chain names keeps the old behaviour (HTTP inside is routed by the table)", async () => {
  const s = await openTunnel("127.0.0.1", proxyPort(), "web:8080");
  s.write("GET / HTTP/1.1\r\nHost: web:8080\r\nConnection: close\r\n\r\n");
  assert.match(await readUntil(s, '"id":"web"'), /^HTTP\/1\.1 200/);
  s.destroy();
});
