// DestinationRule tls SIMPLE and MUTUAL: the sidecar originates TLS to a server outside the
// mesh (a real node:https server with an openssl-made CA), checks its certificate against
// caCertificates and subjectAltNames, sends the configured SNI, and presents a client
// certificate from files for MUTUAL. A wrong SAN or an unreadable file explains itself.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, viaProxy, waitFor } from "../support/http.ts";

const CLIENT_IP = "127.128.1.1";
const SERVER_IP = "127.128.3.1";
const dir = mkdtempSync(join(tmpdir(), "mizzen-tls-origination-"));
const pki = mkdtempSync(join(tmpdir(), "mizzen-tls-pki-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
let simplePort = 0;
let mutualPort = 0;
const seen: { sni?: string; clientCn?: string }[] = [];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: pki, stdio: "pipe" });
}

/** An external CA, a server certificate for api.partner.test, and a client certificate. */
function makePki(): void {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Partner CA"]);
  writeFileSync(join(pki, "server.ext"), "subjectAltName=DNS:api.partner.test\nextendedKeyUsage=serverAuth\n");
  writeFileSync(join(pki, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, ext, cn] of [["server", "server.ext", "api.partner.test"], ["client", "client.ext", "mesh-egress"]] as const) {
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", ext]);
  }
}

async function startTlsServer(requireClientCert: boolean): Promise<number> {
  const server = https.createServer({
    key: readFileSync(join(pki, "server.key")),
    cert: readFileSync(join(pki, "server.pem")),
    ca: readFileSync(join(pki, "ca.pem")),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
  }, (req, res) => {
    const sock = req.socket as TLSSocket;
    seen.push({ sni: (sock as TLSSocket & { servername?: string }).servername || undefined, clientCn: requireClientCert ? String(sock.getPeerCertificate().subject?.CN) : undefined });
    res.end(requireClientCert ? "mutual ok" : "simple ok");
  });
  const port = await freePort(SERVER_IP);
  await new Promise<void>((r) => server.listen(port, SERVER_IP, r));
  cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return port;
}

before(async () => {
  makePki();
  simplePort = await startTlsServer(false);
  mutualPort = await startTlsServer(true);
  writeFileSync(join(dir, "egress.yaml"), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: partner }
spec:
  hosts: [api.partner.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
    - { number: ${simplePort}, name: http-simple, protocol: HTTP }
    - { number: ${mutualPort}, name: http-mutual, protocol: HTTP }
    - { number: 9999, name: http-wrong-san, protocol: HTTP, targetPort: ${simplePort} }
  endpoints: [{ address: ${SERVER_IP} }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: partner }
spec:
  host: api.partner.test
  trafficPolicy:
    portLevelSettings:
      - port: { number: ${simplePort} }
        tls: { mode: SIMPLE, caCertificates: ${join(pki, "ca.pem")}, sni: api.partner.test, subjectAltNames: [api.partner.test] }
      - port: { number: ${mutualPort} }
        tls: { mode: MUTUAL, caCertificates: ${join(pki, "ca.pem")}, clientCertificate: ${join(pki, "client.pem")}, privateKey: ${join(pki, "client.key")}, sni: api.partner.test }
      - port: { number: 9999 }
        tls: { mode: SIMPLE, caCertificates: ${join(pki, "ca.pem")}, sni: api.partner.test, subjectAltNames: [billing.partner.test] }
`);
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const node = nodeFromFlags({ xds: "", ip: CLIENT_IP, name: "client", namespace: "default", labels: "app=client", serviceAccount: "client", ports: "", appAddress: "127.128.2.1", adminPort: "15000", autoRegister: false });
  const proxy = await startProxy({ xds: `127.0.0.1:${xdsPort}`, node, adminAddress: { host: CLIENT_IP, port: 0 }, metricsAddress: false });
  cleanups.push(() => proxy.close());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki, { recursive: true, force: true });
});

test("SIMPLE: the app speaks plain HTTP, the sidecar originates TLS with the configured SNI and checks the server", async () => {
  const r = await waitFor("a SIMPLE request", async () => {
    const x = await viaProxy(CLIENT_IP, 15001, `http://api.partner.test:${simplePort}/`);
    return x.status === 200 ? x : undefined;
  });
  assert.equal(r.body, "simple ok");
  assert.equal(seen.at(-1)?.sni, "api.partner.test");
});

test("MUTUAL: the sidecar presents the client certificate from the DestinationRule's files", async () => {
  const r = await viaProxy(CLIENT_IP, 15001, `http://api.partner.test:${mutualPort}/`);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, "mutual ok");
  assert.equal(seen.at(-1)?.clientCn, "mesh-egress");
});

test("a server whose certificate lacks the expected SAN is refused: 503 UF with the TLS reason", async () => {
  const r = await viaProxy(CLIENT_IP, 15001, "http://api.partner.test:9999/");
  assert.equal(r.status, 503);
  assert.match(r.body, /upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
});
