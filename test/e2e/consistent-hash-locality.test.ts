// DestinationRule loadBalancer through real sidecars, in process: four "shop" backends (two
// in region-a, two in region-b, their locality from topology labels) behind services that
// differ only in their DestinationRule, and a client sidecar in region-a.
// - consistentHash: the same header / cookie / source address / query value always reaches
//   the same backend and different values spread; a missing cookie is made by the proxy and
//   set on the response with its ttl, then honoured.
// - localityLbSetting: with outlier detection the client uses only region-a while it is
//   healthy, and fails over to region-b once region-a's backends are ejected (and back when
//   they heal); distribute splits traffic by the configured weights.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, waitFor, type Reply } from "../support/http.ts";

const NET = "127.131";
const APP_PORT = 8080;
const CLIENT_IP = `${NET}.1.10`;
const BACKENDS = [
  { name: "shop-1", region: "region-a", zone: "a1" },
  { name: "shop-2", region: "region-a", zone: "a1" },
  { name: "shop-3", region: "region-b", zone: "b1" },
  { name: "shop-4", region: "region-b", zone: "b1" },
].map((b, i) => ({ ...b, ip: `${NET}.1.${i + 1}`, app: `${NET}.2.${i + 1}` }));
const REGION_A = ["shop-1", "shop-2"];
const REGION_B = ["shop-3", "shop-4"];

const dir = mkdtempSync(join(tmpdir(), "mizzen-lb-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function service(name: string): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: shop }
  ports: [{ name: http, port: 80, targetPort: ${APP_PORT} }]
`;
}

function rule(name: string, trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name} }
spec:
  host: ${name}
  trafficPolicy:
${trafficPolicy.replace(/^/gm, "    ")}
`;
}

writeFileSync(join(dir, "mesh.yaml"), [
  service("by-header"), rule("by-header", "loadBalancer:\n  consistentHash:\n    httpHeaderName: x-user"),
  service("by-cookie"), rule("by-cookie", "loadBalancer:\n  consistentHash:\n    httpCookie: { name: shop-session, path: /, ttl: 60s }\n    maglev: { tableSize: 1009 }"),
  service("by-source"), rule("by-source", "loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    ringHash: { minimumRingSize: 256 }"),
  service("by-query"), rule("by-query", "loadBalancer:\n  consistentHash:\n    httpQueryParameterName: cart"),
  service("failover"), rule("failover", [
    "outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100 }",
    "loadBalancer:",
    "  simple: ROUND_ROBIN",
    "  localityLbSetting:",
    "    failover: [{ from: region-a, to: region-b }]",
  ].join("\n")),
  service("split"), rule("split", "loadBalancer:\n  localityLbSetting:\n    distribute:\n    - from: region-a/*\n      to: { \"region-a/*\": 75, \"region-b/*\": 25 }"),
].join("---\n"));

/** Backends whose application answers 503 (to be ejected). */
const failing = new Set<string>();

async function startApp(name: string, host: string): Promise<void> {
  const server = http.createServer((_req, res) => {
    res.setHeader("set-cookie", "app=1");
    res.statusCode = failing.has(name) ? 503 : 200;
    res.end(name);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(APP_PORT, host, () => resolve());
  });
  cleanups.push(() => new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  }));
}

function flags(ip: string, name: string, labels: string, ports: string, appAddress: string) {
  return { xds: "", ip, name, namespace: "default", labels, serviceAccount: name, ports, appAddress, adminPort: "15000", autoRegister: true };
}

let adminPort = 0;

before(async () => {
  for (const b of BACKENDS) await startApp(b.name, b.app);
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const xds = `127.0.0.1:${xdsPort}`;
  for (const b of BACKENDS) {
    const labels = `app=shop,topology.kubernetes.io/region=${b.region},topology.kubernetes.io/zone=${b.zone}`;
    const p = await startProxy({ xds, node: nodeFromFlags(flags(b.ip, b.name, labels, `http:${APP_PORT}`, b.app)), adminAddress: { host: b.ip, port: 0 } });
    cleanups.push(() => p.close());
  }
  const client = await startProxy({
    xds,
    node: nodeFromFlags(flags(CLIENT_IP, "client", "app=client,topology.kubernetes.io/region=region-a,topology.kubernetes.io/zone=a1", "", `${NET}.2.10`)),
    adminAddress: { host: CLIENT_IP, port: 0 },
  });
  cleanups.push(() => client.close());
  adminPort = client.adminPort;
  // Every backend healthy in every cluster the client has.
  await waitFor("all four backends healthy at the client", async () => {
    const text = await (await fetch(`http://${CLIENT_IP}:${adminPort}/clusters`)).text();
    return ["by-header", "by-cookie", "by-source", "by-query", "failover", "split"].every((s) =>
      BACKENDS.every((b) => text.includes(`outbound|80||${s}.default.svc.cluster.local::${b.ip}:${APP_PORT}::health_flags::healthy`)));
  }, 30_000);
});

/** One request through the client sidecar, on a fresh connection (from `localAddress` when given). */
function get(url: string, o: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: CLIENT_IP, port: 15001, path: url, headers: { host: u.host, ...o.headers }, agent: false, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function backendOf(url: string, o: Parameters<typeof get>[1] = {}): Promise<string> {
  const r = await get(url, o);
  assert.equal(r.status, 200, `${url}: ${r.status} ${r.body}`);
  return r.body;
}

/** Asks `rounds` times for each key; every key must stick to one backend; returns the backends seen. */
async function stickiness(keys: string[], rounds: number, ask: (key: string) => Promise<string>): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const key of keys) {
    const first = await ask(key);
    for (let i = 1; i < rounds; i++) assert.equal(await ask(key), first, `key ${key} moved`);
    seen.add(first);
  }
  return seen;
}

const T = { timeout: 60_000 };
const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);

test("httpHeaderName: one user, one backend; many users, many backends", T, async () => {
  const seen = await stickiness(users, 3, (u) => backendOf("http://by-header/", { headers: { "x-user": u } }));
  assert.ok(seen.size >= 3, `24 users reached only ${[...seen]}`);
  // Without the header there is no hash: any backend, at random.
  const random = new Set<string>();
  for (let i = 0; i < 40; i++) random.add(await backendOf("http://by-header/"));
  assert.ok(random.size >= 3, `no header: ${[...random]}`);
});

test("httpQueryParameterName: one cart, one backend", T, async () => {
  const seen = await stickiness(users, 3, (u) => backendOf(`http://by-query/items?cart=${u}&page=1`));
  assert.ok(seen.size >= 3, `24 carts reached only ${[...seen]}`);
});

test("useSourceIp: one client address, one backend", T, async () => {
  const sources = Array.from({ length: 16 }, (_, i) => `${NET}.3.${i + 1}`);
  const seen = await stickiness(sources, 3, (src) => backendOf("http://by-source/", { localAddress: src }));
  assert.ok(seen.size >= 2, `16 source addresses reached only ${[...seen]}`);
});

test("httpCookie: a missing cookie is made with its ttl and set on the response, then honoured", T, async () => {
  const cookies = new Map<string, string>();
  for (let i = 0; i < 12; i++) {
    const r = await get("http://by-cookie/");
    assert.equal(r.status, 200);
    const set = r.headers["set-cookie"] ?? [];
    assert.ok(set.includes("app=1"), "the application's own cookie is kept");
    const made = set.find((c) => c.startsWith("shop-session="));
    assert.ok(made, `no shop-session cookie in ${JSON.stringify(set)}`);
    assert.match(made, /^shop-session="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
    cookies.set(made.split(";")[0], r.body);
  }
  assert.equal(cookies.size, 12, "each new connection gets a cookie of its own");
  const seen = new Set<string>();
  for (const [cookie, firstBackend] of cookies) {
    // Sent back, the cookie keeps the client on the backend that made it, and no new one is set.
    for (let i = 0; i < 3; i++) {
      const r = await get("http://by-cookie/", { headers: { cookie: `other=x; ${cookie}` } });
      assert.equal(r.body, firstBackend, `${cookie} moved`);
      assert.deepEqual(r.headers["set-cookie"], ["app=1"]);
    }
    seen.add(firstBackend);
  }
  assert.ok(seen.size >= 2, `12 sessions reached only ${[...seen]}`);
});

test("localityLbSetting.distribute splits region-a's traffic 75/25 between the regions", T, async () => {
  const n = 400;
  let inA = 0;
  for (let i = 0; i < n; i++) if (REGION_A.includes(await backendOf("http://split/"))) inA++;
  assert.ok(Math.abs(inA / n - 0.75) < 0.08, `region-a got ${inA} of ${n}`);
});

test("locality failover: region-a only while it is healthy, region-b once region-a is ejected, back when it heals", T, async () => {
  const where = async (n: number) => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await get("http://failover/");
      if (r.status === 200) out.add(r.body);
    }
    return out;
  };
  assert.deepEqual([...await where(30)].sort(), REGION_A, "a healthy local region keeps all the traffic");
  for (const b of REGION_A) failing.add(b);
  // Each region-a backend answers 503 once and is ejected (consecutive5xxErrors: 1).
  const fallback = await waitFor("traffic in region-b only", async () => {
    const seen = await where(10);
    return seen.size > 0 && [...seen].every((b) => REGION_B.includes(b)) ? seen : undefined;
  }, 20_000, 10);
  assert.ok(fallback.size >= 1);
  assert.deepEqual([...await where(30)].sort(), REGION_B, "both region-b backends share the load");
  // Region-a heals; after base_ejection_time it is back and takes all the traffic again.
  failing.clear();
  await waitFor("traffic back in region-a", async () => {
    const seen = await where(10);
    return [...seen].every((b) => REGION_A.includes(b)) && seen.size === 2;
  }, 20_000, 200);
});
