// Certificate rotation under load, in process: a secure control plane issues 6-second
// workload certificates, so both sidecars rotate every ~3 s (half-life). A mesh-wide STRICT
// PeerAuthentication makes every client -> server hop mutual TLS. Steady traffic runs through
// the client's outbound proxy across at least three rotations of each sidecar:
//   - "server" is reached over kept-alive upstream connections; "server-fresh" (the same pods)
//     has a DestinationRule with maxRequestsPerConnection: 1, so each of its requests makes a
//     new mTLS handshake with whatever certificates are in force at that moment;
//   - the test's own client side mixes keep-alive agents and agent:false;
// no request may fail. openssl s_client, holding a mesh certificate from the same CA, samples
// the server's pod port meanwhile: new connections see the server's newest certificate.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureLog } from "../support/log-capture.ts";
import { issueMeshCertificate, normalizeSerial, startApp, startSecureControl, startSecureSidecar } from "../support/secure-mesh.ts";
import { viaProxy, waitFor } from "../support/http.ts";

const SERVER_IP = "127.124.1.1";
const SERVER_APP = "127.124.2.1";
const CLIENT_IP = "127.124.1.2";
const CLIENT_APP = "127.124.2.2";
const APP_PORT = 8080;
const LIFETIME_S = 6;
const ROTATIONS = 3;

const dir = mkdtempSync(join(tmpdir(), "mizzen-cert-rotation-"));
const configDir = join(dir, "config");
mkdirSync(configDir);
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

writeFileSync(join(configDir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: server }
spec:
  selector: { app: server }
  ports: [{ name: http, port: ${APP_PORT} }]
---
apiVersion: v1
kind: Service
metadata: { name: server-fresh }
spec:
  selector: { app: server }
  ports: [{ name: http, port: ${APP_PORT} }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: server-fresh }
spec:
  host: server-fresh.default.svc.cluster.local
  trafficPolicy:
    connectionPool: { http: { maxRequestsPerConnection: 1 } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);

/** The server certificate a new TLS connection to host:port is shown (openssl, run asynchronously: the sidecars live in this process). */
function serverSerialSeenByOpenssl(host: string, port: number, certFile: string, keyFile: string, caFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("openssl", ["s_client", "-connect", `${host}:${port}`, "-cert", certFile, "-key", keyFile, "-CAfile", caFile, "-showcerts"], { timeout: 10_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(stdout);
      if (!pem) return reject(new Error(`openssl s_client showed no certificate (${err?.message ?? ""}): ${stdout}${stderr}`));
      if (!/Verify return code: 0 \(ok\)/.test(stdout)) return reject(new Error(`the server's chain did not verify against the mesh root: ${stdout.slice(-600)}`));
      const cert = new X509Certificate(pem[0]);
      if (!(cert.subjectAltName ?? "").includes("URI:spiffe://cluster.local/ns/default/sa/server")) return reject(new Error(`not the server's identity: ${cert.subjectAltName}`));
      resolve(normalizeSerial(cert.serialNumber));
    });
    child.stdin?.end();
  });
}

interface LoadResult {
  ok: number;
  failures: string[];
}

/** One client loop: GET through the client's sidecar until `stop()` says so. */
async function loadLoop(host: string, agent: http.Agent | false, stop: () => boolean, result: LoadResult, tag: string): Promise<void> {
  let n = 0;
  while (!stop()) {
    const path = `/${tag}/${n++}`;
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: CLIENT_IP, port: 15001, path: `http://${host}:${APP_PORT}${path}`, headers: { host: `${host}:${APP_PORT}` }, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", reject);
        });
        req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
      });
      if (r.status === 200 && r.body === `server saw ${path}`) result.ok++;
      else result.failures.push(`${path}: ${r.status} ${r.body.slice(0, 200)}`);
    } catch (err) {
      result.failures.push(`${path}: ${(err as Error).message}`);
    }
  }
}

test("sidecars rotate their certificates under steady mTLS load without a failed request", { timeout: 60_000 }, async () => {
  const controlLog = captureLog("control");
  const serverLog = captureLog("server");
  const clientLog = captureLog("client");
  const control = await startSecureControl({ configDir, dataDir: join(dir, "data"), certLifetimeSeconds: LIFETIME_S, logger: controlLog.logger });
  cleanups.push(() => control.cp.close());

  const app = await startApp(SERVER_APP, APP_PORT, (req, res) => res.end(`server saw ${req.url}`));
  cleanups.push(() => app.close());
  const server = await startSecureSidecar(control, { ip: SERVER_IP, name: "server", ports: `http:${APP_PORT}`, appAddress: SERVER_APP, certLifetimeSeconds: LIFETIME_S, logger: serverLog.logger });
  cleanups.push(() => server.close());
  const client = await startSecureSidecar(control, { ip: CLIENT_IP, name: "client", ports: "", appAddress: CLIENT_APP, certLifetimeSeconds: LIFETIME_S, logger: clientLog.logger });
  cleanups.push(() => client.close());

  // A mesh identity for openssl, from the same CA, living longer than the test.
  const probe = await issueMeshCertificate(control, "probe", 300);
  const files = { cert: join(dir, "probe.pem"), key: join(dir, "probe.key"), ca: join(dir, "root.pem") };
  writeFileSync(files.cert, probe.certPem);
  writeFileSync(files.key, probe.keyPem, { mode: 0o600 });
  writeFileSync(files.ca, control.rootPem);

  for (const host of ["server", "server-fresh"]) {
    await waitFor(`200 from ${host} through the client's sidecar`, async () => (await viaProxy(CLIENT_IP, 15001, `http://${host}:${APP_PORT}/ready`)).status === 200, 20_000);
  }
  const firstServerSerial = normalizeSerial(String(serverLog.withMessage("workload certificate obtained")[0]?.serial));
  const firstSeen = await serverSerialSeenByOpenssl(SERVER_IP, APP_PORT, files.cert, files.key, files.ca);
  // The first rotation may already have happened while the mesh settled.
  const rotatedServerSerials = () => serverLog.withMessage("workload certificate rotated").map((r) => normalizeSerial(String(r.serial)));
  assert.ok([firstServerSerial, ...rotatedServerSerials()].includes(firstSeen), "openssl sees a certificate the server's sidecar obtained");

  const rotations = () => ({ server: serverLog.withMessage("workload certificate rotated").length, client: clientLog.withMessage("workload certificate rotated").length });
  const startRotations = rotations();
  const done = () => {
    const r = rotations();
    return r.server - startRotations.server >= ROTATIONS && r.client - startRotations.client >= ROTATIONS;
  };
  const deadline = Date.now() + 20_000;
  const stop = () => done() || Date.now() > deadline;
  const result: LoadResult = { ok: 0, failures: [] };
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => keepAlive.destroy());
  const samples: string[] = [];
  const sampler = (async () => {
    while (!stop()) {
      samples.push(await serverSerialSeenByOpenssl(SERVER_IP, APP_PORT, files.cert, files.key, files.ca));
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await Promise.all([
    loadLoop("server", keepAlive, stop, result, "ka1"),
    loadLoop("server", keepAlive, stop, result, "ka2"),
    loadLoop("server", false, stop, result, "fresh1"),
    loadLoop("server-fresh", keepAlive, stop, result, "ka3"),
    loadLoop("server-fresh", false, stop, result, "fresh2"),
    sampler,
  ]);

  const end = rotations();
  assert.ok(done(), `at least ${ROTATIONS} rotations of each sidecar within 20 s (server ${end.server - startRotations.server}, client ${end.client - startRotations.client})`);
  assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.ok + result.failures.length} requests failed`);
  assert.ok(result.ok > 100, `steady load: ${result.ok} requests`);

  // The CA issued each of those certificates: 2 first ones + the probe + every rotation.
  const issued = controlLog.withMessage("certificate issued");
  assert.ok(issued.length >= 3 + end.server + end.client, `the CA logged ${issued.length} issued certificates`);
  const issuedSerials = new Set(issued.map((r) => normalizeSerial(String(r.serial))));
  for (const s of rotatedServerSerials()) assert.ok(issuedSerials.has(s), `serial ${s} came from the control plane's CA`);
  assert.equal(new Set(rotatedServerSerials()).size, end.server, "every rotation brought a new serial");

  // New connections after rotation see the new server certificate.
  const distinctSeen = new Set(samples);
  assert.ok(distinctSeen.size >= ROTATIONS, `openssl saw ${distinctSeen.size} different server certificates across the rotations`);
  const last = await serverSerialSeenByOpenssl(SERVER_IP, APP_PORT, files.cert, files.key, files.ca);
  assert.notEqual(last, firstSeen);
  assert.ok(rotatedServerSerials().includes(last), "a new connection is shown a rotated certificate");
  assert.ok((await server.stat("downstream_cx_ssl_total")) > 0);
});
