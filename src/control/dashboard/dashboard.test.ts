// The dashboard end to end: a real control plane (CA, xDS over TLS) and two sidecars in the
// secure mode on 127.155.1.x, applications behind them on 127.155.2.x, real traffic (mTLS
// between sidecars, plaintext from outside the mesh, 5xx from the app, UH to a service with
// no endpoints). The graph must show the right edges with rps > 0 and the lock on mTLS ones;
// details must name the VirtualService with its file and line; the page is served from the
// build folder (and 503 without one) and no path climbs out of it.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl, type ControlPlane } from "../main.ts";
import { workloadIdentity } from "../../ca/index.ts";
import { startApp, startSecureSidecar, type SecureControl, type Sidecar } from "../../../test/support/secure-mesh.ts";
import { freePort, viaProxy, waitFor } from "../../../test/support/http.ts";
import type { DetailsResponse, GraphEdge, GraphResponse, ProxiesResponse } from "./contract.ts";

const FRONTEND_IP = "127.155.1.1";
const BACKEND_IP = "127.155.1.2";
const BACKEND_HOST = "backend.default.svc.cluster.local";
const FRONTEND_HOST = "frontend.default.svc.cluster.local";
const FRONTEND = "workload:default/frontend";
const BACKEND = "workload:default/backend";

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: frontend, namespace: default }
spec: { selector: { app: frontend }, ports: [{ name: http, port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: backend, namespace: default }
spec: { selector: { app: backend }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: nowhere, namespace: default }
spec: { selector: { app: nowhere }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: idle, namespace: default }
spec: { selector: { app: idle }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend-route, namespace: default }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], timeout: 5s }]
`;

const dir = mkdtempSync(join(tmpdir(), "mizzen-dashboard-"));
const configDir = join(dir, "config");
const uiDir = join(dir, "dist");
let cp: ControlPlane | undefined;
let base = "";
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  mkdirSync(configDir);
  mkdirSync(uiDir);
  writeFileSync(join(configDir, "istio.yaml"), CONFIG);
  writeFileSync(join(uiDir, "index.html"), "<!doctype html><title>Mizzen dashboard</title><script src=app.js></script>");
  writeFileSync(join(uiDir, "app.js"), "console.log('graph')");
  writeFileSync(join(dir, "secret.txt"), "must not be served");

  const port = await freePort();
  cp = await startControl({
    configDir,
    secureXds: { host: "127.0.0.1", port },
    security: { dataDir: join(dir, "data") },
    debug: { host: "127.0.0.1", port: 0 },
    accessLog: false,
    debounceMs: 10,
    // A generous scrape deadline: under a loaded test machine a healthy sidecar must not be reported as failed.
    dashboard: { uiDir, scrape: { intervalMs: 500, timeoutMs: 5000 } },
  });
  base = `http://127.0.0.1:${cp.debugPort}`;
  const control: SecureControl = {
    cp,
    address: `127.0.0.1:${cp.secureXdsPort}`,
    rootPem: cp.security!.rootPem,
    token: (sa, ns = "default") => cp!.security!.tokens.issue(workloadIdentity("cluster.local", ns, sa)),
  };
  const backendApp = await startApp("127.155.2.2", 9080, (req, res) => {
    res.writeHead(req.url === "/fail" ? 503 : 200);
    res.end(req.url === "/fail" ? "failing on purpose" : "backend ok");
  });
  closers.push(() => backendApp.close());
  const frontendApp = await startApp("127.155.2.1", 8080, (_req, res) => res.end("frontend"));
  closers.push(() => frontendApp.close());
  const sidecars: Sidecar[] = [];
  sidecars.push(await startSecureSidecar(control, { ip: FRONTEND_IP, name: "frontend", ports: "http:8080", appAddress: "127.155.2.1" }));
  sidecars.push(await startSecureSidecar(control, { ip: BACKEND_IP, name: "backend", ports: "http:9080", appAddress: "127.155.2.2" }));
  for (const s of sidecars) closers.push(() => s.close());
  await waitFor("frontend's sidecar routing to backend", async () => (await viaProxy(FRONTEND_IP, 15001, "http://backend:9080/")).status === 200, 20_000);
});

after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get<T>(path: string): Promise<{ status: number; type: string; body: T; text: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { redirect: "manual" });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: body as T, text, headers: res.headers };
}

/** Sends a mix of traffic until `stop` resolves truthy. */
async function trafficUntil<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  let done = false;
  const load = (async () => {
    while (!done) {
      await Promise.all([
        viaProxy(FRONTEND_IP, 15001, "http://backend:9080/"),
        viaProxy(FRONTEND_IP, 15001, "http://backend:9080/fail"),
        viaProxy(FRONTEND_IP, 15001, "http://nowhere:9080/"),
        // From outside the mesh, straight to frontend's sidecar: plaintext (PERMISSIVE).
        viaProxy(FRONTEND_IP, 8080, `http://${FRONTEND_HOST}:8080/`),
      ]).catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    return await waitFor(what, check, 30_000, 250);
  } finally {
    done = true;
    await load;
  }
}

function edgeOf(g: GraphResponse, source: string, target: string): GraphEdge | undefined {
  return g.edges.find((e) => e.source === source && e.target === target);
}

let graph: GraphResponse;

test("the graph shows workload -> service and service -> workload edges with rates, mTLS and outside traffic", { timeout: 60_000 }, async () => {
  graph = await trafficUntil("edges with traffic in the graph", async () => {
    const { body } = await get<GraphResponse>("/api/dashboard/graph");
    const ready = [
      edgeOf(body, FRONTEND, `service:${BACKEND_HOST}`),
      edgeOf(body, `service:${BACKEND_HOST}`, BACKEND),
      edgeOf(body, "unknown", `service:${FRONTEND_HOST}`),
      edgeOf(body, FRONTEND, "service:nowhere.default.svc.cluster.local"),
    ];
    return ready.every((e) => e && e.rps > 0) && (ready[0]!.responseCodes["503"] ?? 0) > 0 && body;
  });
  assert.equal(graph.windowSeconds, 10);
  assert.deepEqual(graph.scrape, { proxies: 2, failed: [] });

  const toBackend = edgeOf(graph, FRONTEND, `service:${BACKEND_HOST}`)!;
  assert.equal(toBackend.id, `${FRONTEND}->service:${BACKEND_HOST}`);
  assert.equal(toBackend.protocol, "http");
  assert.equal(toBackend.mtls, true, "backend's sidecar reported mutual_tls for frontend's requests");
  assert.ok(toBackend.errorRate > 0 && toBackend.errorRate < 1, `errorRate ${toBackend.errorRate}: /fail answers 503`);
  assert.ok(toBackend.responseCodes["200"] > 0);
  assert.ok(toBackend.p99Ms !== null && toBackend.p99Ms > 0, `p99 ${toBackend.p99Ms}`);

  const served = edgeOf(graph, `service:${BACKEND_HOST}`, BACKEND)!;
  assert.equal(served.mtls, true);
  const outside = edgeOf(graph, "unknown", `service:${FRONTEND_HOST}`)!;
  assert.equal(outside.mtls, false, "plaintext from outside the mesh");
  assert.equal(edgeOf(graph, `service:${FRONTEND_HOST}`, FRONTEND)!.mtls, false);
  const nowhere = edgeOf(graph, FRONTEND, "service:nowhere.default.svc.cluster.local")!;
  assert.ok(nowhere.flags.UH > 0, JSON.stringify(nowhere));
  assert.equal(nowhere.health, "failing");

  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  assert.ok(nodes.get(`service:${BACKEND_HOST}`)!.rps > 0);
  assert.ok(nodes.get(BACKEND)!.rps > 0);
  assert.equal(nodes.get(BACKEND)!.app, "backend");
  assert.equal(nodes.get(FRONTEND)!.proxy?.synced, true);
  assert.ok(nodes.get(`service:${FRONTEND_HOST}`)!.rps > 0);
  assert.equal(nodes.get("service:nowhere.default.svc.cluster.local")!.rps > 0, true);
  assert.equal(nodes.get("service:idle.default.svc.cluster.local")!.health, "idle", "known to the registry, no traffic");
  assert.equal(nodes.get("unknown")!.kind, "unknown");
});

test("details name the VirtualService with state and file:line, and explain the flags", async () => {
  const svc = await get<DetailsResponse>(`/api/dashboard/details?node=${encodeURIComponent(`service:${BACKEND_HOST}`)}`);
  assert.equal(svc.status, 200, svc.text);
  const vs = svc.body.config.find((c) => c.kind === "VirtualService");
  assert.deepEqual(vs && { name: vs.name, namespace: vs.namespace, state: vs.state, messages: vs.messages }, { name: "backend-route", namespace: "default", state: "accepted", messages: [] });
  assert.equal(vs!.where, `${join(configDir, "istio.yaml")}:${CONFIG.split("\n").indexOf("kind: VirtualService")}`);
  assert.deepEqual(svc.body.endpoints, [{ address: `${BACKEND_IP}:9080`, healthy: true, workload: "backend.default" }]);

  const edge = await get<DetailsResponse>(`/api/dashboard/details?edge=${encodeURIComponent(`${FRONTEND}->service:nowhere.default.svc.cluster.local`)}`);
  assert.equal(edge.status, 200, edge.text);
  assert.equal(edge.body.kind, "edge");
  assert.ok(edge.body.hints.some((h) => h.startsWith("UH: ")), edge.body.hints.join("\n"));
  const app5xx = await get<DetailsResponse>(`/api/dashboard/details?edge=${encodeURIComponent(`service:${BACKEND_HOST}->${BACKEND}`)}`);
  assert.equal(app5xx.body.numbers.mtls, true);
  assert.ok(app5xx.body.hints.some((h) => /application itself/.test(h)), app5xx.body.hints.join("\n"));

  const missing = await get<{ error: string }>("/api/dashboard/details?node=service:nope.example");
  assert.equal(missing.status, 404);
  assert.match(missing.body.error, /no node "service:nope.example"/);
  assert.equal((await get<{ error: string }>("/api/dashboard/details")).status, 400);
});

test("proxies: each connected proxy with its sync state per type", async () => {
  // A push may be in flight (STALE for a moment); wait for the settled state.
  const body = await waitFor("both proxies synced", async () => {
    const r = await get<ProxiesResponse>("/api/dashboard/proxies");
    return r.body.proxies.length === 2 && r.body.proxies.every((p) => p.types.CDS === "SYNCED" && p.types.EDS === "SYNCED") && r.body;
  }, 20_000);
  assert.deepEqual(body.proxies.map((p) => p.name), ["backend", "frontend"]);
  for (const p of body.proxies) {
    assert.deepEqual(p.types, { CDS: "SYNCED", LDS: "SYNCED", EDS: "SYNCED", RDS: "SYNCED" });
    assert.equal(p.health, "HEALTHY");
    assert.equal(p.namespace, "default");
    assert.ok(p.connectedFor >= 0);
  }
});

test("the page: files with content types, no path traversal, a redirect to the slash, and 503 without a build", async () => {
  const index = await get("/dashboard/");
  assert.equal(index.status, 200);
  assert.equal(index.type, "text/html; charset=utf-8");
  assert.match(index.text, /Mizzen dashboard/);
  const js = await get("/dashboard/app.js");
  assert.equal(js.type, "text/javascript; charset=utf-8");
  for (const p of ["/dashboard/..%2fsecret.txt", "/dashboard/..%2f..%2fconfig%2fistio.yaml", "/dashboard/%2e%2e/secret.txt", "/dashboard/..%5csecret.txt"]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.ok(!r.text.includes("must not be served"), p);
  }
  const bare = await get("/dashboard");
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get("location"), "/dashboard/");
  // The debug endpoints that were there before still answer.
  assert.equal((await get("/ready")).text, "ready\n");
  assert.equal((await get<unknown[]>("/debug/syncz")).body.length, 2);

  rmSync(uiDir, { recursive: true });
  const notBuilt = await get("/dashboard/");
  assert.equal(notBuilt.status, 503);
  assert.match(notBuilt.text, /the dashboard is not built: run `npm run build:ui`/);
});
