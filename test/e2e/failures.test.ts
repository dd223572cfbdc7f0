// Every failure explains itself: through a real sidecar, a missing route answers 404 NR, a
// service with no endpoints 503 UH, a dead endpoint 503 UF, a slow upstream behind a
// VirtualService timeout 504 UT, and each flag shows in the sidecar's access log line.
// The upstream here is Python's http.server: any process in any language can be a workload.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { viaProxy, waitFor } from "../support/http.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-failures-"));
let mesh: TestMesh | undefined;
after(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

writeFileSync(
  join(dir, "workloads.yaml"),
  `workloads:
  - name: web
    labels: { app: web, version: v1 }
    ports: [{ name: http, port: 8000 }]
    command: "exec python3 -m http.server $PORT --bind $HOST"
  - name: slow
    labels: { app: slow }
    ports: [{ name: http, port: 9090 }]
    command: ["node", "slow.ts"]
`,
);
writeFileSync(
  join(dir, "slow.ts"),
  `import http from "node:http";
http.createServer((req, res) => {
  const ms = Number(new URL(req.url ?? "/", "http://x").searchParams.get("ms") ?? 0);
  setTimeout(() => res.end("slow done after " + ms + " ms\\n"), ms);
}).listen(Number(process.env.PORT), process.env.HOST);
`,
);
writeFileSync(
  join(dir, "mesh.yaml"),
  `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8000 }]
---
apiVersion: v1
kind: Service
metadata: { name: slow }
spec:
  selector: { app: slow }
  ports: [{ name: http, port: 9090 }]
---
apiVersion: v1
kind: Service
metadata: { name: ghost }
spec:
  selector: { app: ghost }
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: dead }
spec:
  hosts: [dead.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.102.9.9 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web]
  http:
  - match: [{ uri: { prefix: /workloads } }]
    route: [{ destination: { host: web } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: slow }
spec:
  hosts: [slow]
  http:
  - timeout: 0.5s
    route: [{ destination: { host: slow } }]
`,
);

test("missing route, no endpoints, dead endpoint and timeout each answer with Envoy's status and flag", async () => {
  mesh = await startMesh(dir, 102, 2);
  const proxy = mesh.podIp(2); // the slow workload's sidecar acts as the client side
  await waitFor("web answering", async () => (await viaProxy(proxy, 15001, "http://web/workloads.yaml")).status === 200);

  const ok = await viaProxy(proxy, 15001, "http://web/workloads.yaml");
  assert.equal(ok.status, 200);
  assert.match(ok.body, /python3 -m http.server/);

  const nr = await viaProxy(proxy, 15001, "http://web/nope");
  assert.equal(nr.status, 404, "no route matches /nope");

  const uh = await viaProxy(proxy, 15001, "http://ghost/");
  assert.equal(uh.status, 503);
  assert.match(uh.body, /no healthy upstream/);

  const uf = await viaProxy(proxy, 15001, "http://dead.example.internal/");
  assert.equal(uf.status, 503);
  assert.match(uf.body, /connect/);

  const fast = await viaProxy(proxy, 15001, "http://slow:9090/?ms=10");
  assert.equal(fast.status, 200);
  const ut = await viaProxy(proxy, 15001, "http://slow:9090/?ms=3000");
  assert.equal(ut.status, 504);
  assert.match(ut.body, /upstream request timeout/);

  // The access log lines of the client sidecar carry the flags.
  await waitFor("access log lines", async () => /" 504 UT /.test(mesh!.output()), 5000);
  const log = mesh.output();
  assert.match(log, /"GET \/nope HTTP\/1.1" 404 NR /);
  assert.match(log, /" 503 UH /);
  assert.match(log, /" 503 (URX,)?UF(,URX)? /);
  assert.match(log, /" 504 UT /);
});
