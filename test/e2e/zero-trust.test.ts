// Zero trust through real processes: `mizzen up` issues each sidecar a bootstrap token, the
// control plane's CA signs its certificate, and sidecars talk mutual TLS. With a mesh-wide
// STRICT PeerAuthentication and an AuthorizationPolicy on the server:
//   - the allowed caller gets through (mTLS, its SPIFFE ID is the request's principal);
//   - a path the policy does not allow gets 403 "RBAC: access denied";
//   - plaintext to the server's port is refused and counted; openssl and curl without a client
//     certificate are refused; a certificate from another CA is refused; a mesh certificate
//     for another identity completes TLS (the SAN is checked) and is then denied by policy.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { viaProxy, waitFor } from "../support/http.ts";

const SUBNET = 123;
const dir = mkdtempSync(join(tmpdir(), "mizzen-zero-trust-"));
let mesh: TestMesh;

writeFileSync(join(dir, "workloads.yaml"), `workloads:
  - name: client
    serviceAccount: client
    labels: { app: client }
    ports: [{ name: http, port: 8080 }]
    command: ["node", "echo.ts"]
  - name: server
    serviceAccount: server
    labels: { app: server }
    ports: [{ name: http, port: 8080 }]
    command: ["node", "echo.ts"]
`);
writeFileSync(join(dir, "echo.ts"), `import http from "node:http";
http.createServer((req, res) => res.end(JSON.stringify({ path: req.url, xfcc: req.headers["x-forwarded-client-cert"] ?? null }))).listen(Number(process.env.PORT), process.env.HOST);
`);
writeFileSync(join(dir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: server }
spec:
  selector: { app: server }
  ports: [{ name: http, port: 8080 }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: server-allow-client }
spec:
  selector: { matchLabels: { app: server } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/client"] } }]
      to: [{ operation: { methods: ["GET"], paths: ["/allowed*"] } }]
`);

before(async () => {
  mesh = await startMesh(dir, SUBNET, 2);
});
after(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const serverPod = `127.${SUBNET}.1.2`;
const caDir = join(dir, ".mizzen", "ca");

function curl(args: string[]): { code: number; out: string } {
  const r = spawnSync("curl", ["-sS", "-m", "5", ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function stat(pod: string, name: string): number {
  const text = execFileSync("curl", ["-s", `http://${pod}:15000/stats`], { encoding: "utf8" });
  const m = new RegExp(`^${name.replace(/[.[\]|]/g, "\\$&")}: (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

test("the allowed caller reaches the server over mTLS; another path is denied by policy", async () => {
  const ok = await waitFor("an allowed request", async () => {
    const r = await viaProxy(`127.${SUBNET}.1.1`, 15001, "http://server:8080/allowed/1");
    return r.status === 200 ? r : undefined;
  });
  assert.equal(JSON.parse(ok.body).path, "/allowed/1");
  assert.ok(stat(serverPod, "downstream_cx_ssl_total") >= 1, "the server's sidecar terminated mesh TLS");
  // Sidecar-to-sidecar mTLS connections are kept alive: more requests, no new handshakes.
  const handshakes = stat(serverPod, "downstream_cx_ssl_total");
  for (let i = 0; i < 5; i++) assert.equal((await viaProxy(`127.${SUBNET}.1.1`, 15001, `http://server:8080/allowed/${i}`)).status, 200);
  assert.ok(stat(serverPod, "downstream_cx_ssl_total") - handshakes <= 1, "five requests reuse the pooled mTLS connection");
  const denied = await viaProxy(`127.${SUBNET}.1.1`, 15001, "http://server:8080/secret");
  assert.equal(denied.status, 403);
  assert.equal(denied.body, "RBAC: access denied");
  assert.ok(stat(serverPod, "rbac.denied") >= 1);
  // The runner relays the sidecar's log line a moment after the 403 reaches the client.
  await waitFor("the denial's log line", async () => /request denied by AuthorizationPolicy .*policy=none/.test(mesh.output()));
  // Istio's metric labels carry the mTLS identities on both reporters.
  const serverMetrics = execFileSync("curl", ["-s", `http://${serverPod}:15090/stats/prometheus`], { encoding: "utf8" });
  assert.match(serverMetrics, /istio_requests_total\{reporter="destination"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/client"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/server"[^}]*\} \d+|istio_requests_total\{reporter="destination"[^}]*connection_security_policy="mutual_tls"/);
  assert.match(serverMetrics, /connection_security_policy="mutual_tls"/);
  const clientMetrics = execFileSync("curl", ["-s", `http://127.${SUBNET}.1.1:15090/stats/prometheus`], { encoding: "utf8" });
  assert.match(clientMetrics, /reporter="source"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/server"/);
});

test("the sidecar's /certs shows its workload certificate and the mesh root, never the key", () => {
  const text = execFileSync("curl", ["-s", `http://${serverPod}:15000/certs`], { encoding: "utf8" });
  const page = JSON.parse(text) as { certificates: { cert_chain: { path: string; subject_alt_names: { uri?: string }[]; days_until_expiration: number }[]; ca_cert: { path: string }[] }[] };
  const [c] = page.certificates;
  assert.equal(c!.cert_chain[0]!.path, "default");
  assert.deepEqual(c!.cert_chain[0]!.subject_alt_names, [{ uri: "spiffe://cluster.local/ns/default/sa/server" }]);
  assert.equal(c!.cert_chain[0]!.days_until_expiration, 0, "24 h lifetime");
  assert.equal(c!.ca_cert[0]!.path, "ROOTCA");
  assert.doesNotMatch(text, /PRIVATE KEY/);
});

test("the control plane's /metrics count certificates issued (istiod's citadel_server_* names)", async () => {
  const text = await (await fetch(`${mesh.debugUrl}/metrics`)).text();
  assert.match(text, /^citadel_server_success_cert_issuance_count ([2-9]|\d{2,})$/m, "one certificate per sidecar at least");
  assert.match(text, /^citadel_server_csr_count \d+$/m);
});

test("plaintext to a STRICT port is refused and counted", () => {
  const r = curl([`http://${serverPod}:8080/allowed`]);
  assert.notEqual(r.code, 0, r.out);
  assert.ok(stat(serverPod, "downstream_cx_rejected.plaintext_on_mtls_port") >= 1, "the refusal is counted");
});

test("openssl and curl without a client certificate are refused", () => {
  const s = spawnSync("openssl", ["s_client", "-connect", `${serverPod}:8080`, "-CAfile", join(caDir, "root-cert.pem")], { input: "", encoding: "utf8", timeout: 10_000 });
  const text = `${s.stdout}${s.stderr}`;
  // The server's certificate is a mesh identity (URI SAN, no DNS name) signed by the mesh root.
  assert.match(text, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/server|Verify return code: 0/);
  const r = curl(["--cacert", join(caDir, "root-cert.pem"), "-k", `https://${serverPod}:8080/allowed`]);
  assert.notEqual(r.code, 0, `curl without a client certificate must fail: ${r.out}`);
});

test("a certificate from another CA is refused; a mesh certificate for another identity is denied by policy", () => {
  const work = mkdtempSync(join(tmpdir(), "mizzen-zt-certs-"));
  try {
    const sh = (args: string[]) => execFileSync("openssl", args, { cwd: work, stdio: "pipe" });
    writeFileSync(join(work, "ext.cnf"), "subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/outsider\nextendedKeyUsage=clientAuth,serverAuth\n");
    // Another CA, same SPIFFE ID: must not be trusted.
    sh(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "1", "-subj", "/CN=other"]);
    sh(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/"]);
    sh(["x509", "-req", "-in", "leaf.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key", "-CAcreateserial", "-out", "foreign.pem", "-days", "1", "-extfile", "ext.cnf"]);
    const foreign = curl(["-k", "--cert", join(work, "foreign.pem"), "--key", join(work, "leaf.key"), `https://${serverPod}:8080/allowed`]);
    assert.notEqual(foreign.code, 0, `a foreign certificate must be refused: ${foreign.out}`);
    // The mesh root signs an "outsider" identity: TLS completes, the policy denies it.
    sh(["x509", "-req", "-in", "leaf.csr", "-CA", join(caDir, "root-cert.pem"), "-CAkey", join(caDir, "root-key.pem"), "-CAcreateserial", "-out", "mesh.pem", "-days", "1", "-extfile", "ext.cnf"]);
    const outsider = curl(["-k", "--cert", join(work, "mesh.pem"), "--key", join(work, "leaf.key"), "-w", "\n%{http_code}", `https://${serverPod}:8080/allowed`]);
    assert.equal(outsider.code, 0, outsider.out);
    assert.match(outsider.out, /RBAC: access denied\n403$/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
