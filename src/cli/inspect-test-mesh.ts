// A small in-process Bookinfo-like mesh for the inspection commands' tests: the control plane
// on a temp folder and two sidecars (productpage, reviews-v1) with tiny apps behind them.
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../control/main.ts";
import { startProxy } from "../proxy/main.ts";
import { nodeFromFlags } from "./proxy.ts";

export const MESH_YAML = `apiVersion: v1
kind: Service
metadata: { name: productpage, namespace: default }
spec: { selector: { app: productpage }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
`;

export interface TestMesh {
  control: string;
  /** Pod IPs by workload name. */
  pods: Record<string, string>;
  close(): Promise<void>;
}

function app(host: string, port: number, name: string): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end(name));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** subnet picks 127.<subnet>.1.N for pod IPs, so parallel test files do not collide. */
export async function startTestMesh(subnet: number): Promise<TestMesh> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-inspect-"));
  writeFileSync(join(dir, "mesh.yaml"), MESH_YAML);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: 0 }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
    closers.push(() => cp.close());
    const pods: Record<string, string> = {};
    const workloads = [
      { name: "productpage-v1", labels: "app=productpage,version=v1" },
      { name: "reviews-v1", labels: "app=reviews,version=v1" },
    ];
    for (const [i, w] of workloads.entries()) {
      const ip = `127.${subnet}.1.${i + 1}`;
      const appIp = `127.${subnet}.2.${i + 1}`;
      const server = await app(appIp, 9080, w.name);
      closers.push(() => new Promise((r) => server.close(r)));
      const node = nodeFromFlags({ xds: "", ip, name: w.name, namespace: "default", labels: w.labels, serviceAccount: w.name, ports: "http:9080", appAddress: appIp, adminPort: "15000", autoRegister: true });
      const proxy = await startProxy({ xds: `127.0.0.1:${cp.xdsPort}`, node, adminAddress: { host: ip, port: 15000 } });
      closers.push(() => proxy.close());
      pods[w.name] = ip;
    }
    return { control: `127.0.0.1:${cp.debugPort}`, pods, close };
  } catch (err) {
    await close();
    throw err;
  }
}
