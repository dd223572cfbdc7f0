// WebSocket through two real sidecars, in process: the client's sidecar (explicit HTTP proxy on
// podIP:15001, absolute-form and Host-routed requests) and the server's inbound sidecar. The
// upgrade is routed like any request, the upgraded connection is piped both ways, and both
// sidecars log it once with status 101 and its bytes. Node's own WebSocket client (undici)
// talks to the server's sidecar directly and checks the handshake itself.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl, type ControlPlane } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, waitFor } from "../support/http.ts";
import { startWsEchoServer, wsConnect, type WsServer } from "../../src/proxy/listen/websocket-test-kit.ts";

const SERVER_POD = "127.134.1.1";
const SERVER_APP = "127.134.2.1";
const CLIENT_POD = "127.134.1.2";
const PORT = 8080;

const dir = mkdtempSync(join(tmpdir(), "mizzen-websocket-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
const serverLog: string[] = [];
const clientLog: string[] = [];
let app: WsServer;
let cp: ControlPlane;

writeFileSync(join(dir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: chat }
spec:
  selector: { app: chat }
  ports: [{ name: http-ws, port: ${PORT} }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: chat }
spec:
  hosts: [chat]
  http:
    - match: [{ uri: { prefix: /blocked } }]
      directResponse: { status: 418, body: { string: "no sockets here" } }
    - route: [{ destination: { host: chat } }]
`);

function flags(ip: string, name: string, ports: string, appAddress: string) {
  return { xds: "", ip, name, namespace: "default", labels: `app=${name}`, serviceAccount: name, ports, appAddress, adminPort: "15000", autoRegister: true };
}

before(async () => {
  const xdsPort = await freePort();
  cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: true, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const xds = `127.0.0.1:${xdsPort}`;
  app = await startWsEchoServer(SERVER_APP, PORT, "chat");
  cleanups.push(() => app.close());
  const server = await startProxy({ xds, node: nodeFromFlags(flags(SERVER_POD, "chat", `http-ws:${PORT}`, SERVER_APP)), adminAddress: { host: SERVER_POD, port: 0 }, accessLog: (l) => serverLog.push(l) });
  cleanups.push(() => server.close());
  const client = await startProxy({ xds, node: nodeFromFlags(flags(CLIENT_POD, "client", "", "127.134.2.2")), adminAddress: { host: CLIENT_POD, port: 0 }, accessLog: (l) => clientLog.push(l) });
  cleanups.push(() => client.close());
  await waitFor("chat's endpoint at the client's sidecar", async () => {
    const text = await (await fetch(`http://${CLIENT_POD}:${client.adminPort}/clusters`)).text();
    return text.includes(`${SERVER_POD}:${PORT}::health_flags::healthy`);
  });
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

test("a WebSocket through the client's and the server's sidecars, absolute-form and Host-routed", { timeout: 60_000 }, async () => {
  for (const [target, host] of [["http://chat:8080/room/1", "chat:8080"], ["/room/2", "chat.default.svc.cluster.local:8080"]] as const) {
    const c = await wsConnect({ host: CLIENT_POD, port: 15001, requestTarget: target, hostHeader: host });
    assert.equal(c.status, 101, `${target}: ${c.body}`);
    for (let i = 0; i < 3; i++) {
      c.send(`hello ${i}`);
      assert.equal(await c.next(), `chat:hello ${i}`);
    }
    await c.close();
  }
  // Each sidecar writes one line per upgraded connection when it ends: 101 and its bytes.
  const line = (lines: string[], path: string) => waitFor(`a 101 line for ${path}`, async () => lines.find((l) => l.includes(`"GET ${path} HTTP/1.1" 101 `)));
  for (const lines of [clientLog, serverLog]) {
    const l = await line(lines, "/room/1");
    const m = /" 101 - via_upstream - "-" (\d+) (\d+) /.exec(l);
    assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0, `bytes both ways: ${l}`);
    await line(lines, "/room/2");
  }
  assert.ok((await line(clientLog, "/room/1")).includes("outbound|8080||chat.default.svc.cluster.local"));
  assert.ok((await line(serverLog, "/room/1")).includes("inbound|8080||"));
  assert.equal(app.upgrades, 2);
});

test("the upgrade request is routed like any request: a direct response answers it", async () => {
  const c = await wsConnect({ host: CLIENT_POD, port: 15001, requestTarget: "http://chat:8080/blocked", hostHeader: "chat:8080" });
  assert.equal(c.status, 418);
  assert.equal(c.body.includes("no sockets here"), true);
});

test("Node's WebSocket client (undici) through the server's sidecar", async () => {
  const ws = new WebSocket(`ws://${SERVER_POD}:${PORT}/direct`);
  const got = await new Promise<string>((resolve, reject) => {
    ws.onopen = () => ws.send("from undici");
    ws.onmessage = (e) => resolve(String(e.data));
    ws.onerror = () => reject(new Error("websocket error"));
  });
  assert.equal(got, "chat:from undici");
  ws.close();
  await new Promise((r) => (ws.onclose = r));
});
