// Nothing is lost when the control plane goes away: the sidecar keeps serving its last good
// snapshot while the control plane is down, reconnects with backoff when it returns (on the
// same address), and then picks up config that changed in the meantime.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl, type ControlPlane } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, viaProxy, waitFor } from "../support/http.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-outage-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function upstream(name: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end(name));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

function config(version: string, ports: Record<string, number>): string {
  return `apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo }
spec:
  host: echo
  subsets: [{ name: one, labels: { version: one } }, { name: two, labels: { version: two } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo }
spec:
  hosts: [echo]
  http: [{ route: [{ destination: { host: echo, subset: ${version} } }] }]
${Object.entries(ports).map(([v, port]) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-${v} }
spec: { address: 127.0.0.1, labels: { app: echo, version: ${v} }, ports: { http: ${port} } }
`).join("")}`;
}

test("a sidecar serves its last good config through a control-plane outage and resyncs after", async () => {
  const ports = { one: await upstream("one"), two: await upstream("two") };
  writeFileSync(join(dir, "mesh.yaml"), config("one", ports));
  const xdsPort = await freePort();
  const control = () => startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  let cp: ControlPlane | undefined = await control();
  cleanups.push(() => cp?.close());

  const ip = "127.104.1.1";
  const node = nodeFromFlags({ xds: "", ip, name: "client", namespace: "default", labels: "app=client", serviceAccount: "client", ports: "", appAddress: "127.104.2.1", adminPort: "15000", autoRegister: true });
  const proxy = await startProxy({ xds: `127.0.0.1:${xdsPort}`, node, adminAddress: { host: ip, port: 0 } });
  cleanups.push(() => proxy.close());
  const get = () => viaProxy(ip, 15001, "http://echo/");
  await waitFor("first route", async () => (await get()).body === "one");

  await cp.close();
  cp = undefined;
  // Down: every request still routed by the last good snapshot.
  for (let i = 0; i < 20; i++) {
    const r = await get();
    assert.equal(r.status, 200);
    assert.equal(r.body, "one");
    await new Promise((res) => setTimeout(res, 50));
  }
  // The config changes while the control plane is away; it comes back on the same port.
  writeFileSync(join(dir, "mesh.yaml"), config("two", ports));
  cp = await control();
  await waitFor("the proxy reconnecting and taking the new route", async () => (await get()).body === "two", 20_000);
  const r = await get();
  assert.equal(r.status, 200);
});
