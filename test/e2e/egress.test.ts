// Egress through real sidecars, in process: hosts outside the registry pass through
// (ALLOW_ANY, Istio's default) or get 502 (REGISTRY_ONLY, mesh-wide or per Sidecar), and a
// Sidecar that limits egress to the proxy's own namespace shrinks what the proxy is sent.
// The access log names the catch-all route (allow_any / block_all) and Istio's metrics name
// PassthroughCluster / BlackHoleCluster as the destination service.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, viaProxy, waitFor } from "../support/http.ts";

const SUBNET = "127.136";
const dirs: string[] = [];
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configDir(name: string, yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mizzen-egress-${name}-`));
  dirs.push(dir);
  writeFileSync(join(dir, "mesh.yaml"), yaml);
  return dir;
}

/** An HTTP server answering `body`; counts the requests it got. */
async function server(host: string, body: string, port = 0): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const s = http.createServer((_req, res) => {
    hits++;
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => resolve());
  });
  cleanups.push(() => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); }));
  return { port: (s.address() as AddressInfo).port, hits: () => hits };
}

interface Sidecar { ip: string; adminPort: number; log: string[] }

async function sidecar(xds: string, ip: string, name: string, namespace: string, app?: { address: string; port: number }): Promise<Sidecar> {
  const node = nodeFromFlags({
    xds: "", ip, name, namespace, labels: `app=${name}`, serviceAccount: name, ports: app ? `http:${app.port}` : "",
    appAddress: app?.address ?? ip.replace(/\.1\.(\d+)$/, ".2.$1"), adminPort: "15000", autoRegister: true, healthReporting: false,
  });
  const log: string[] = [];
  const p = await startProxy({ xds, node, adminAddress: { host: ip, port: 0 }, metricsAddress: false, accessLog: (l) => log.push(l) });
  cleanups.push(() => p.close());
  return { ip, adminPort: p.adminPort, log };
}

async function clusterNames(s: Sidecar): Promise<string[]> {
  const dump = await (await fetch(`http://${s.ip}:${s.adminPort}/config_dump`)).json() as { configs: { "@type": string; dynamic_active_clusters?: { cluster: { name: string } }[] }[] };
  const clusters = dump.configs.find((c) => c["@type"].endsWith("ClustersConfigDump"));
  return (clusters?.dynamic_active_clusters ?? []).map((c) => c.cluster.name).sort();
}

/** istio_requests_total samples of this sidecar, as label maps with their value. */
async function requestsTotal(s: Sidecar): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await (await fetch(`http://${s.ip}:${s.adminPort}/stats/prometheus`)).text();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("istio_requests_total{")) continue;
    const close = line.lastIndexOf("} ");
    const labels: Record<string, string> = {};
    for (const m of line.slice("istio_requests_total{".length, close).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    out.push({ labels, value: Number(line.slice(close + 2)) });
  }
  return out;
}

const SERVICES = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ledger, namespace: bank }
spec:
  selector: { app: ledger }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: partners, namespace: bank }
spec:
  hosts: [a.partner.test, b.partner.test, c.partner.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 443, name: tls, protocol: TLS }]
  endpoints: [{ address: ${SUBNET}.9.9 }]
`;

function sidecarYaml(mode: "ALLOW_ANY" | "REGISTRY_ONLY"): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: shop }
spec:
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: { mode: ${mode} }
`;
}

test("ALLOW_ANY passes unknown hosts through; a Sidecar narrows egress to its namespace, then blocks the rest", { timeout: 60_000 }, async () => {
  const dir = configDir("allow", SERVICES);
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: true, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const xds = `127.0.0.1:${xdsPort}`;
  await server(`${SUBNET}.2.1`, "web ok", 8080);
  await server(`${SUBNET}.2.2`, "ledger ok", 8080);
  const outside = await server("127.0.0.1", "unregistered ok");
  await sidecar(xds, `${SUBNET}.1.1`, "web", "shop", { address: `${SUBNET}.2.1`, port: 8080 });
  await sidecar(xds, `${SUBNET}.1.2`, "ledger", "bank", { address: `${SUBNET}.2.2`, port: 8080 });
  const client = await sidecar(xds, `${SUBNET}.1.3`, "client", "shop");
  const get = (url: string) => viaProxy(client.ip, 15001, url);

  await waitFor("web and ledger through the client's sidecar", async () => (await get("http://web/")).body === "web ok" && (await get("http://ledger.bank/")).body === "ledger ok", 15_000);

  // A server no Service or ServiceEntry names: PassthroughCluster connects to the host:port asked for.
  const unknownUrl = `http://127.0.0.1:${outside.port}/hello`;
  const through = await get(unknownUrl);
  assert.equal(through.status, 200);
  assert.equal(through.body, "unregistered ok");
  assert.equal(outside.hits(), 1);
  const passLine = client.log.find((l) => l.includes(`127.0.0.1:${outside.port}`));
  assert.ok(passLine, `an access log line for the passthrough request:\n${client.log.join("")}`);
  assert.match(passLine, / PassthroughCluster /);
  assert.match(passLine, / allow_any\s*$/);
  const passMetric = (await requestsTotal(client)).find((s) => s.labels.destination_service_name === "PassthroughCluster");
  assert.ok(passMetric, "istio_requests_total names PassthroughCluster");
  assert.equal(passMetric.labels.destination_service, "127.0.0.1");
  assert.equal(passMetric.labels.response_code, "200");

  const before = await clusterNames(client);
  assert.ok(before.includes("outbound|80||ledger.bank.svc.cluster.local") && before.includes("outbound|443||b.partner.test"), before.join(", "));
  assert.ok(before.includes("PassthroughCluster") && before.includes("BlackHoleCluster"));

  // Egress limited to the proxy's own namespace: the other namespaces' clusters go away.
  writeFileSync(join(dir, "sidecar.yaml"), sidecarYaml("ALLOW_ANY"));
  const narrowed = await waitFor("the client's clusters to shrink", async () => {
    const names = await clusterNames(client);
    return names.length < before.length ? names : undefined;
  }, 15_000);
  assert.deepEqual(narrowed, ["BlackHoleCluster", "PassthroughCluster", "outbound|80||web.shop.svc.cluster.local"]);
  assert.equal((await get("http://web/")).body, "web ok", "its own namespace still flows");
  // ledger is unknown to this proxy now; ALLOW_ANY sends it through, where its cluster-local name does not resolve.
  const ledger = await get("http://ledger.bank.svc.cluster.local/");
  assert.equal(ledger.status, 503);
  assert.match(client.log.at(-1) ?? "", /"ledger\.bank\.svc\.cluster\.local".* PassthroughCluster .* allow_any/);

  // The same Sidecar with REGISTRY_ONLY: the host outside, and the unregistered server, get 502.
  writeFileSync(join(dir, "sidecar.yaml"), sidecarYaml("REGISTRY_ONLY"));
  const blocked = await waitFor("502 for ledger under REGISTRY_ONLY", async () => {
    const r = await get("http://ledger.bank.svc.cluster.local/");
    return r.status === 502 ? r : undefined;
  }, 15_000);
  assert.match(blocked.body, /REGISTRY_ONLY/);
  assert.match(blocked.body, /ServiceEntry/);
  const hitsBefore = outside.hits();
  assert.equal((await get(unknownUrl)).status, 502);
  assert.equal(outside.hits(), hitsBefore, "a blocked request never leaves the sidecar");
  assert.match(client.log.at(-1) ?? "", /" 502 - direct_response .* block_all\s*$/);
  assert.deepEqual(await clusterNames(client), ["BlackHoleCluster", "outbound|80||web.shop.svc.cluster.local"], "nothing to pass through to");
  const blackHole = (await requestsTotal(client)).filter((s) => s.labels.destination_service_name === "BlackHoleCluster");
  assert.ok(blackHole.length > 0, "istio_requests_total names BlackHoleCluster");
  assert.ok(blackHole.every((s) => s.labels.response_code === "502" && s.labels.response_flags === "-"));
  assert.ok(blackHole.some((s) => s.labels.destination_service === "ledger.bank.svc.cluster.local"));
  assert.equal((await get("http://web/")).body, "web ok");
});

test("mesh-wide REGISTRY_ONLY (the control plane's --outbound-traffic-policy): unknown hosts get 502, registered ones flow", { timeout: 60_000 }, async () => {
  const dir = configDir("registry-only", `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: allowed, namespace: default }
spec:
  hosts: [allowed.partner.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: ${SUBNET}.3.1 }]
`);
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: true, debounceMs: 10, outboundTrafficPolicy: "REGISTRY_ONLY" });
  cleanups.push(() => cp.close());
  await server(`${SUBNET}.3.1`, "allowed ok", 80);
  const outside = await server("127.0.0.1", "unregistered ok");
  const client = await sidecar(`127.0.0.1:${xdsPort}`, `${SUBNET}.4.1`, "client", "default");
  const get = (url: string) => viaProxy(client.ip, 15001, url);

  await waitFor("the registered external host", async () => (await get("http://allowed.partner.test/")).body === "allowed ok", 15_000);
  const r = await get(`http://127.0.0.1:${outside.port}/`);
  assert.equal(r.status, 502);
  assert.match(r.body, /not in the mesh's service registry/);
  assert.equal(outside.hits(), 0);
  assert.match(client.log.at(-1) ?? "", / block_all\s*$/);
  const names = await clusterNames(client);
  assert.ok(names.includes("BlackHoleCluster") && !names.includes("PassthroughCluster"), names.join(", "));
  const blackHole = (await requestsTotal(client)).find((s) => s.labels.destination_service_name === "BlackHoleCluster");
  assert.equal(blackHole?.labels.destination_service, "127.0.0.1");
  assert.equal(blackHole?.value, 1);
});
