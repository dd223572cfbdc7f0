// WebSocket (HTTP/1.1 Upgrade) through one proxy, over loopback sockets: routed like any
// request, piped both ways once the upstream says 101, logged once with 101 and the bytes of
// the whole exchange; refused with Envoy's 403 upgrade_failed where the connection manager
// has no upgrade_configs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { Listener } from "../../xds/envoy-types.ts";
import { cla, deadPort, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";
import { startWsEchoServer, wsConnect, type WsServer } from "./websocket-test-kit.ts";

let ws: WsServer;
let plain: Upstream;
let plane: DataPlane & { port(l: string): number };
const log: string[] = [];

function withUpgrades(l: Listener): Listener {
  l.filter_chains![0]!.filters[0]!.typed_config.upgrade_configs = [{ upgrade_type: "websocket" }];
  return l;
}

before(async () => {
  ws = await startWsEchoServer("127.0.0.1", 0, "echo");
  plain = await startUpstream("plain", (_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" });
    res.end("upgrade refused here\n");
  });
  const dead = await deadPort();
  const table = routeConfig("http_proxy", [
    vhost("ws", ["ws:80", "ws"], [toCluster("outbound|80||ws")]),
    vhost("plain", ["plain:80", "plain"], [toCluster("outbound|80||plain")]),
    vhost("down", ["down:80", "down"], [toCluster("outbound|80||down")]),
  ]);
  plane = await startPlane({
    clusters: [edsCluster("outbound|80||ws"), edsCluster("outbound|80||plain"), edsCluster("outbound|80||down")],
    endpoints: [cla("outbound|80||ws", [{ port: ws.port }]), cla("outbound|80||plain", [{ port: plain.port }]), cla("outbound|80||down", [{ port: dead }])],
    listeners: [withUpgrades(hcmListener("http_proxy", { rds: "http_proxy", accessLog: true })), hcmListener("no_upgrades", { rds: "http_proxy", accessLog: true })],
    routes: [table],
  }, { accessLog: log });
});

after(async () => {
  await plane.close();
  await ws.close();
  await plain.close();
});

async function logLine(pred: (l: string) => boolean): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const l = log.find(pred);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no access log line matched; got:\n${log.join("")}`);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond());
}

test("absolute-form and Host-routed upgrades reach the route's cluster and are piped both ways", async () => {
  const port = plane.port("http_proxy");
  for (const [target, hostHeader] of [["http://ws/chat?room=1", "ws"], ["/chat?room=2", "ws:80"]] as const) {
    const c = await wsConnect({ host: "127.0.0.1", port, requestTarget: target, hostHeader });
    assert.equal(c.status, 101, target);
    assert.equal(c.headers["x-served-by"], "echo");
    c.send("hello");
    assert.equal(await c.next(), "echo:hello");
    c.send("x".repeat(70_000)); // a frame with a 64-bit length, several TCP segments
    assert.equal((await c.next()).length, "echo:".length + 70_000);
    await c.close();
  }
  const line = await logLine((l) => l.includes("/chat?room=1"));
  assert.match(line, /"GET \/chat\?room=1 HTTP\/1\.1" 101 - via_upstream /);
  const bytes = /" 101 - via_upstream - "-" (\d+) (\d+) /.exec(line);
  assert.ok(bytes && Number(bytes[1]) > 70_000 && Number(bytes[2]) > 70_000, `bytes both ways in: ${line}`);
  assert.ok(line.includes("outbound|80||ws"));
  assert.equal(plane.stats.get("downstream_cx_upgrades_total"), 2);
  await until(() => plane.stats.get("downstream_cx_upgrades_active") === 0);
  assert.ok(plane.stats.get("downstream_rq_1xx") >= 2);
});

test("a connection manager without upgrade_configs refuses with 403 upgrade_failed", async () => {
  const c = await wsConnect({ host: "127.0.0.1", port: plane.port("no_upgrades"), requestTarget: "http://ws/denied", hostHeader: "ws" });
  assert.equal(c.status, 403);
  const line = await logLine((l) => l.includes("/denied"));
  assert.match(line, /" 403 - upgrade_failed /);
  assert.equal(ws.upgrades >= 2, true);
});

test("an upstream that does not upgrade answers as a normal response; a dead one is 503 UF", async () => {
  const port = plane.port("http_proxy");
  const refused = await wsConnect({ host: "127.0.0.1", port, requestTarget: "http://plain/x", hostHeader: "plain" });
  assert.equal(refused.status, 426);
  assert.ok(refused.body.includes("upgrade refused here"), refused.body);
  const down = await wsConnect({ host: "127.0.0.1", port, requestTarget: "http://down/x", hostHeader: "down" });
  assert.equal(down.status, 503);
  assert.match(await logLine((l) => l.includes("outbound|80||down")), /" 503 UF /);
});

test("Upgrade: h2c (curl --http2) is served as a plain HTTP/1.1 request", async () => {
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: plane.port("http_proxy"), path: "http://plain/h2c", headers: { host: "plain", connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "AAMAAABkAAQAoAAAAAIAAAAA" }, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(reply.status, 426, "the upstream's own answer, not a refused upgrade");
});

test("a client that hangs up while the upstream is being asked leaves nothing behind", async () => {
  const s = net.connect(plane.port("http_proxy"), "127.0.0.1");
  await new Promise((r) => s.once("connect", r));
  s.end("GET http://down/gone HTTP/1.1\r\nHost: down\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  s.resume();
  await new Promise((r) => s.once("close", r));
  assert.match(await logLine((l) => l.includes("/gone")), /" 503 UF /);
  await until(() => plane.stats.get("downstream_cx_upgrades_active") === 0);
});
