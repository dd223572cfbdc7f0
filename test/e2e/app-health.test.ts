// Health reporting for auto-registered workloads, in process: the sidecar of "web" probes its
// application and tells the control plane; until the app listens (and again after it dies)
// web's endpoint is unhealthy, so a client gets 503 UH ("no healthy upstream") at once instead
// of a connection failure (503 UF) to an app that is not there.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, viaProxy, waitFor, type Reply } from "../support/http.ts";

const WEB_IP = "127.106.1.1";
const WEB_APP = "127.106.2.1";
const CLIENT_IP = "127.106.1.2";
const APP_PORT = 8080;

const dir = mkdtempSync(join(tmpdir(), "mizzen-app-health-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

writeFileSync(join(dir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: ${APP_PORT} }]
`);

function flags(ip: string, name: string, ports: string, appAddress: string) {
  return { xds: "", ip, name, namespace: "default", labels: `app=${name}`, serviceAccount: name, ports, appAddress, adminPort: "15000", autoRegister: true };
}

/** The web application; stopping it also drops the inbound sidecar's kept-alive connections. */
async function startApp(): Promise<() => Promise<void>> {
  const server = http.createServer((_req, res) => res.end("web ok"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(APP_PORT, WEB_APP, () => resolve());
  });
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  }));
  cleanups.push(stop);
  return stop;
}

const isNoHealthyUpstream = (r: Reply) => r.status === 503 && r.body === "no healthy upstream";

test("a workload's endpoint is used only while its application accepts connections", { timeout: 60_000 }, async () => {
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const xds = `127.0.0.1:${xdsPort}`;

  const webNode = nodeFromFlags(flags(WEB_IP, "web", `http:${APP_PORT}`, WEB_APP));
  assert.equal(webNode.healthReporting, true, "mizzen proxy reports health by default");
  const web = await startProxy({ xds, node: webNode, adminAddress: { host: WEB_IP, port: 0 } });
  cleanups.push(() => web.close());
  const client = await startProxy({ xds, node: nodeFromFlags(flags(CLIENT_IP, "client", "", "127.106.2.2")), adminAddress: { host: CLIENT_IP, port: 0 } });
  cleanups.push(() => client.close());

  const get = () => viaProxy(CLIENT_IP, 15001, "http://web/");
  const clusters = async () => (await fetch(`http://${CLIENT_IP}:${client.adminPort}/clusters`)).text();
  const endpointLine = `${WEB_IP}:${APP_PORT}::health_flags::`;

  // The app is not listening: web is registered, but its endpoint reaches the client unhealthy.
  await waitFor("web's endpoint in the client's EDS, marked unhealthy", async () => (await clusters()).includes(`${endpointLine}/eds_unhealthy`));
  const registry = await (await fetch(`http://127.0.0.1:${cp.debugPort}/debug/registryz`)).json() as { workloads: { name: string; healthy?: boolean; healthMessage?: string }[] };
  const webWorkload = registry.workloads.find((w) => w.name === "web");
  assert.equal(webWorkload?.healthy, false);
  assert.match(webWorkload?.healthMessage ?? "", new RegExp(`${WEB_APP}:${APP_PORT}`));
  for (let i = 0; i < 5; i++) {
    const r = await get();
    assert.ok(isNoHealthyUpstream(r), `app down: expected 503 no healthy upstream (UH), got ${r.status} ${r.body}`);
  }

  // The app starts: the sidecar's probe notices, the control plane pushes, traffic flows.
  const stopApp = await startApp();
  const ok = await waitFor("200 from web once its app listens", async () => {
    const r = await get();
    return r.status === 200 ? r : undefined;
  }, 15_000);
  assert.equal(ok.body, "web ok");
  assert.ok((await clusters()).includes(`${endpointLine}healthy`));

  // The app dies: the endpoint is taken out of use again.
  await stopApp();
  await waitFor("503 UH once the app is gone", async () => isNoHealthyUpstream(await get()), 15_000);
  assert.ok((await clusters()).includes(`${endpointLine}/eds_unhealthy`));
  const again = await get();
  assert.ok(isNoHealthyUpstream(again), `app down again: expected 503 UH, got ${again.status} ${again.body}`);
});
