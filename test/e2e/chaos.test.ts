// Faults under load, through real sidecars, with the success rates a user should expect:
//   - an endpoint killed mid-load: retries (and outlier detection) keep the client at >= 99 %;
//   - an endpoint answering 503 half the time: retries on 5xx hide it (>= 99 %, where
//     no retries would give ~75 %), and outlier detection ejects it;
//   - a slow endpoint behind a VirtualService timeout: every request ends in 504 UT near the
//     timeout, none waits for the slow answer;
//   - a connection-pool limit under a burst: the excess is refused at once with 503 UO, and
//     the refusals are counted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, viaProxy, waitFor, type Reply } from "../support/http.ts";

const NET = "127.138";
const CLIENT_IP = `${NET}.1.100`;
const PORT = 8080;
const dir = mkdtempSync(join(tmpdir(), "mizzen-chaos-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
let xds = "";
let clientAdmin = 0;

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const ok: Behaviour = (_q, s) => s.end("ok");

/** One workload: its app on 127.138.2.N and its sidecar on 127.138.1.N, labelled app=<service>. */
async function workload(n: number, service: string, version: string, behaviour: Behaviour): Promise<{ kill(): Promise<void>; served(): number }> {
  let served = 0;
  const app = http.createServer((q, s) => {
    served++;
    behaviour(q, s);
  });
  await new Promise<void>((r) => app.listen(PORT, `${NET}.2.${n}`, r));
  let killed: Promise<void> | undefined;
  const kill = () => (killed ??= new Promise<void>((r) => {
    app.close(() => r());
    app.closeAllConnections();
  }));
  cleanups.push(kill);
  const node = nodeFromFlags({ xds, ip: `${NET}.1.${n}`, name: `${service}-${version}-${n}`, namespace: "default", labels: `app=${service},version=${version}`, serviceAccount: service, ports: `http:${PORT}`, appAddress: `${NET}.2.${n}`, adminPort: "0", autoRegister: true });
  const proxy = await startProxy({ xds, node, adminAddress: { host: `${NET}.1.${n}`, port: 0 }, metricsAddress: false, healthProbe: { startupIntervalMs: 100, intervalMs: 300 } });
  cleanups.push(() => proxy.close());
  return { kill, served: () => served };
}

writeFileSync(join(dir, "mesh.yaml"), ["steady", "flaky", "slow", "narrow"].map((s) => `apiVersion: v1
kind: Service
metadata: { name: ${s} }
spec:
  selector: { app: ${s} }
  ports: [{ name: http, port: ${PORT} }]
`).join("---\n") + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: steady }
spec:
  hosts: [steady]
  http:
    - route: [{ destination: { host: steady } }]
      retries: { attempts: 3, perTryTimeout: 1s, retryOn: "5xx,connect-failure,reset" }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: steady }
spec:
  host: steady
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky }
spec:
  hosts: [flaky]
  http:
    - route: [{ destination: { host: flaky } }]
      retries: { attempts: 3, retryOn: "5xx" }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: flaky }
spec:
  host: flaky
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: slow }
spec:
  hosts: [slow]
  http:
    - route: [{ destination: { host: slow } }]
      timeout: 300ms
      retries: { attempts: 0 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: narrow }
spec:
  host: narrow
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1, http2MaxRequests: 1 }
`);

const W: Record<string, { kill(): Promise<void>; served(): number }> = {};

before(async () => {
  const port = await freePort();
  xds = `127.0.0.1:${port}`;
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  cleanups.push(() => cp.close());
  W.steady1 = await workload(1, "steady", "v1", ok);
  W.steady2 = await workload(2, "steady", "v1", ok);
  W.steady3 = await workload(3, "steady", "v1", ok);
  W.flakyGood = await workload(4, "flaky", "good", ok);
  let flip = 0;
  W.flakyBad = await workload(5, "flaky", "bad", (_q, s) => {
    s.statusCode = flip++ % 2 === 0 ? 503 : 200;
    s.end(s.statusCode === 503 ? "sometimes down" : "ok");
  });
  W.slow = await workload(6, "slow", "v1", (_q, s) => setTimeout(() => s.end("late"), 2000).unref());
  W.narrow = await workload(7, "narrow", "v1", (_q, s) => setTimeout(() => s.end("ok"), 300));
  const node = nodeFromFlags({ xds, ip: CLIENT_IP, name: "client", namespace: "default", labels: "app=client", serviceAccount: "client", ports: "", appAddress: `${NET}.2.100`, adminPort: "0", autoRegister: false });
  const client = await startProxy({ xds, node, adminAddress: { host: CLIENT_IP, port: 0 }, metricsAddress: false });
  cleanups.push(() => client.close());
  clientAdmin = client.adminPort;
  for (const s of ["steady", "flaky", "narrow"]) await waitFor(`${s} reachable`, async () => (await get(s)).status === 200, 20_000);
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function get(service: string, timeoutMs = 5000): Promise<Reply> {
  return viaProxy(CLIENT_IP, 15001, `http://${service}:${PORT}/`, { timeoutMs }).catch((e: Error) => ({ status: 0, headers: {}, body: e.message }));
}

/** `total` requests from `concurrency` loops; `during(i)` runs before request i. */
async function load(service: string, total: number, concurrency: number, during?: (i: number) => Promise<void> | void): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      await during?.(i);
      out.push(await get(service));
    }
  }));
  return out;
}

const rate = (rs: Reply[]) => rs.filter((r) => r.status === 200).length / rs.length;

test("an endpoint killed mid-load: retries keep the success rate at 99 % or more", async (t) => {
  const rs = await load("steady", 600, 6, (i) => (i === 150 ? W.steady1!.kill() : undefined));
  t.diagnostic(`killed endpoint: ${(rate(rs) * 100).toFixed(2)} % of ${rs.length} requests succeeded`);
  assert.ok(rate(rs) >= 0.99, `success ${(rate(rs) * 100).toFixed(1)} % (${rs.filter((r) => r.status !== 200).map((r) => r.status).join(",")})`);
  assert.ok(W.steady2!.served() > 100 && W.steady3!.served() > 100, "the survivors carried the load");
});

test("an endpoint answering 503 half the time: retries on 5xx hide it; outlier detection ejects it", async (t) => {
  const rs = await load("flaky", 400, 4);
  t.diagnostic(`flaky endpoint: ${(rate(rs) * 100).toFixed(2)} % of ${rs.length} requests succeeded`);
  assert.ok(rate(rs) >= 0.99, `success ${(rate(rs) * 100).toFixed(1)} %`);
  const clusters = await (await fetch(`http://${CLIENT_IP}:${clientAdmin}/clusters`)).text();
  assert.match(clusters, /outbound\|8080\|\|flaky\.default\.svc\.cluster\.local::outlier_detection\.ejections_enforced_total::[1-9]|failed_outlier_check/, "the flaky endpoint was ejected");
});

test("a slow endpoint behind a 300 ms timeout: 504 UT near the timeout, never the slow answer", async () => {
  const started = Date.now();
  const rs = await load("slow", 12, 4);
  const took = Date.now() - started;
  assert.deepEqual([...new Set(rs.map((r) => r.status))], [504]);
  assert.ok(rs.every((r) => r.body === "upstream request timeout"));
  assert.ok(took < 12 / 4 * 1500, `12 requests in 4 loops took ${took} ms: each waited about the timeout, not the 2 s answer`);
});

test("a connection-pool limit under a burst: the excess gets 503 UO at once, counted", async () => {
  const before = await overflowCount();
  const rs = await Promise.all(Array.from({ length: 20 }, () => get("narrow")));
  const refused = rs.filter((r) => r.status === 503);
  assert.ok(rs.some((r) => r.status === 200), "what fits the pool is served");
  assert.ok(refused.length >= 10, `${refused.length} of 20 refused`);
  assert.ok(refused.every((r) => /reset reason: overflow/.test(r.body)), refused.map((r) => r.body).join(" | "));
  assert.equal(await overflowCount() - before, refused.length, "every refusal is counted as upstream_rq_pending_overflow");
});

async function overflowCount(): Promise<number> {
  const text = await (await fetch(`http://${CLIENT_IP}:${clientAdmin}/clusters`)).text();
  const m = /outbound\|8080\|\|narrow\.default\.svc\.cluster\.local::upstream_rq_pending_overflow::(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}
