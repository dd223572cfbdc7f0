// Proxies whose metrics cannot be read must not break the dashboard: on 127.155.3.x a real
// sidecar serves traffic next to ADS clients posing as sidecars whose metrics port answers
// garbage or hangs, a proxyless gRPC client (no metrics, never scraped) and one that says it
// serves none (MIZZEN_METRICS_PORT 0). The two bad ones show in scrape.failed with their
// reason; the real one's traffic still reaches the graph.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl, type ControlPlane } from "../main.ts";
import { startProxy } from "../../proxy/main.ts";
import { nodeFromFlags } from "../../cli/proxy.ts";
import { AdsClient } from "../../xds/client.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import type { ProxyNode } from "../../xds/node.ts";
import { startApp } from "../../../test/support/secure-mesh.ts";
import { viaProxy, waitFor } from "../../../test/support/http.ts";
import type { GraphResponse } from "./contract.ts";

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { selector: { app: web }, ports: [{ name: http, port: 8080 }] }
`;

const dir = mkdtempSync(join(tmpdir(), "mizzen-dashboard-bad-"));
let cp: ControlPlane | undefined;
const closers: (() => unknown)[] = [];
const sockets = new Set<net.Socket>();

function fakeNode(name: string, ip: string, extra: Partial<ProxyNode> = {}): ProxyNode {
  return {
    id: `sidecar~${ip}~${name}.default~default.svc.cluster.local`, type: "sidecar", ip, name, namespace: "default", labels: { app: name },
    serviceAccount: name, ports: [], appAddress: "", interceptionMode: "NONE", autoRegister: false, ...extra,
  };
}

async function listen(server: http.Server, host: string, port: number): Promise<number> {
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  closers.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

before(async () => {
  writeFileSync(join(dir, "web.yaml"), CONFIG);
  cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: 0 }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10, dashboard: { scrape: { intervalMs: 300, timeoutMs: 3000 } } });
  const xds = `127.0.0.1:${cp.xdsPort}`;

  const app = await startApp("127.155.5.1", 8080, (_req, res) => res.end("web"));
  closers.push(() => app.close());
  const node = nodeFromFlags({ xds, ip: "127.155.3.1", name: "web", namespace: "default", labels: "app=web", serviceAccount: "web", ports: "http:8080", appAddress: "127.155.5.1", adminPort: "0", autoRegister: true });
  const proxy = await startProxy({ xds, node, adminAddress: { host: "127.155.3.1", port: 0 } });
  closers.push(() => proxy.close());

  // Metrics ports that misbehave: an HTML page on the default 15090, and one that never answers.
  await listen(http.createServer((_req, res) => res.end("<html><body>Welcome to nginx!</body></html>")), "127.155.3.2", 15090);
  const hangingPort = await listen(http.createServer(() => { /* never answers */ }), "127.155.3.3", 0);
  const fakes = [
    fakeNode("garbage", "127.155.3.2"),
    fakeNode("hanging", "127.155.3.3", { metricsPort: hangingPort }),
    fakeNode("grpc-client", "127.155.3.4", { type: "grpc" }),
    fakeNode("no-metrics", "127.155.3.5", { metricsPort: 0 }),
  ];
  for (const n of fakes) {
    const client = new AdsClient({ server: xds, node: n, onResponse: () => null });
    client.subscribeAll(TYPE.cluster);
    client.start();
    closers.push(() => client.close());
  }
  await waitFor("all five proxies connected", async () => ((await (await fetch(`http://127.0.0.1:${cp!.debugPort}/debug/syncz`)).json()) as unknown[]).length === 5, 20_000);
  await waitFor("web's sidecar serving", async () => (await viaProxy("127.155.3.1", 8080, "http://web.default.svc.cluster.local:8080/")).status === 200, 20_000);
});

after(async () => {
  for (const s of sockets) s.destroy();
  for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("garbage and hanging metrics ports are reported per proxy; the rest of the graph still works", { timeout: 60_000 }, async () => {
  const url = `http://127.0.0.1:${cp!.debugPort}/api/dashboard/graph`;
  let done = false;
  const load = (async () => {
    while (!done) {
      await viaProxy("127.155.3.1", 8080, "http://web.default.svc.cluster.local:8080/").catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let graph: GraphResponse;
  try {
    graph = await waitFor("web's traffic in the graph", async () => {
      const g = (await (await fetch(url)).json()) as GraphResponse;
      return (g.edges.find((e) => e.id === "unknown->service:web.default.svc.cluster.local")?.rps ?? 0) > 0 && g;
    }, 30_000, 250);
  } finally {
    done = true;
    await load;
  }
  assert.equal(graph.scrape.proxies, 3, "web, garbage and hanging; the gRPC client and the one without metrics are not scraped");
  const failed = new Map(graph.scrape.failed.map((f) => [f.proxy, f.error]));
  assert.deepEqual([...failed.keys()].sort(), ["sidecar~127.155.3.2~garbage.default~default.svc.cluster.local", "sidecar~127.155.3.3~hanging.default~default.svc.cluster.local"]);
  assert.match(failed.get("sidecar~127.155.3.2~garbage.default~default.svc.cluster.local")!, /127\.155\.3\.2:15090\/stats\/prometheus: .*not Prometheus text: line 1/);
  assert.match(failed.get("sidecar~127.155.3.3~hanging.default~default.svc.cluster.local")!, /no answer within 3000 ms/);
  const web = graph.nodes.find((n) => n.id === "workload:default/web");
  assert.ok(web && web.rps > 0 && web.proxy?.synced, JSON.stringify(web));
  // The control plane's other endpoints are unaffected.
  assert.equal(await (await fetch(`http://127.0.0.1:${cp!.debugPort}/ready`)).text(), "ready\n");
});
