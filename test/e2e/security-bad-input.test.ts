// Bad input against the real security surfaces, in process:
//   - the CA on the control plane's TLS port: a garbage CSR, a CSR for another identity, no
//     token, an unknown token, each refused with its gRPC status, logged and counted by reason;
//   - the ADS stream: a node claiming another service account than its token is refused
//     (PERMISSION_DENIED), one without a token too (UNAUTHENTICATED), and both are counted;
//   - a sidecar's STRICT port: plaintext, an expired mesh certificate, one from another CA, a
//     truncated ClientHello (ended by a reset or by FIN) and a TLS record of garbage each close
//     that connection, are counted in /stats as downstream_cx_rejected.<reason> and logged,
//     and the next good mTLS request is served.
// CA refusals are read from the CA's stats(): the control plane's /metrics does not export them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadOrCreateSelfSignedRoot, requestCertificate, signCsr, workloadIdentity, type SigningCa } from "../../src/ca/index.ts";
import { makeCsr } from "../../src/ca/test-kit.ts";
import { ADS_PATH, decodeResponse, encodeRequest, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from "../../src/xds/ads-service.ts";
import { nodeToEnvoy } from "../../src/xds/node-codec.ts";
import { TYPE } from "../../src/xds/envoy-types.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { generateWorkloadKey } from "../../src/proxy/identity/workload-key.ts";
import { captureLog, type CapturedLog } from "../support/log-capture.ts";
import { CONTROL_NAME, issueMeshCertificate, startApp, startSecureControl, startSecureSidecar, type MeshCertificate, type SecureControl, type Sidecar } from "../support/secure-mesh.ts";
import { waitFor } from "../support/http.ts";

const SERVER_IP = "127.126.1.1";
const SERVER_APP = "127.126.2.1";
const HELLO_CATCHER = "127.126.3.1";
const APP_PORT = 8080;

const dir = mkdtempSync(join(tmpdir(), "mizzen-security-bad-input-"));
const configDir = join(dir, "config");
mkdirSync(configDir);
writeFileSync(join(configDir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: server }
spec:
  selector: { app: server }
  ports: [{ name: http, port: ${APP_PORT} }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);

const cleanups: (() => Promise<unknown> | void)[] = [];
let control: SecureControl;
let controlLog: CapturedLog;
let serverLog: CapturedLog;
let server: Sidecar;
let good: MeshCertificate;
/** Paths the application behind the STRICT port received. */
const appSaw: string[] = [];

before(async () => {
  controlLog = captureLog("control");
  serverLog = captureLog("server");
  control = await startSecureControl({ configDir, dataDir: join(dir, "data"), logger: controlLog.logger });
  cleanups.push(() => control.cp.close());
  const app = await startApp(SERVER_APP, APP_PORT, (req, res) => {
    appSaw.push(req.url ?? "");
    res.end(`served ${req.url}`);
  });
  cleanups.push(() => app.close());
  server = await startSecureSidecar(control, { ip: SERVER_IP, name: "server", ports: `http:${APP_PORT}`, appAddress: SERVER_APP, logger: serverLog.logger });
  cleanups.push(() => server.close());
  good = await issueMeshCertificate(control, "client", 600);
  await waitFor("the server's STRICT port serving mTLS", async () => (await mtlsGet("/ready", good)) === "served /ready", 20_000);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const caOptions = () => ({
  address: control.address,
  credentials: grpc.credentials.createSsl(Buffer.from(control.rootPem)),
  channelOptions: { "grpc.ssl_target_name_override": CONTROL_NAME, "grpc.default_authority": CONTROL_NAME },
});

async function caRefusal(csrPem: string, token: string | undefined): Promise<grpc.ServiceError> {
  try {
    await requestCertificate({ ...caOptions(), csrPem, ...(token !== undefined ? { token } : {}) });
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("the CA signed a certificate it should have refused");
}

test("the CA refuses bad certificate requests with the right status, a log line and a count", async () => {
  const ca = control.cp.security!.certificates;
  const prober = control.token("prober");
  const garbagePem = "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n";
  const cases: { what: string; csr: string; token: string | undefined; code: grpc.status; reason: string; says: RegExp }[] = [
    { what: "garbage CSR", csr: garbagePem, token: prober, code: grpc.status.INVALID_ARGUMENT, reason: "bad_csr", says: /CSR/ },
    { what: "not even PEM", csr: "hello", token: prober, code: grpc.status.INVALID_ARGUMENT, reason: "bad_csr", says: /CSR/ },
    { what: "CSR for another identity", csr: await makeCsr({ uris: ["spiffe://cluster.local/ns/default/sa/server"] }), token: prober, code: grpc.status.PERMISSION_DENIED, reason: "identity_mismatch", says: /entitled only to "spiffe:\/\/cluster\.local\/ns\/default\/sa\/prober"/ },
    { what: "no token", csr: await makeCsr(), token: undefined, code: grpc.status.UNAUTHENTICATED, reason: "missing_token", says: /no bootstrap token/ },
    { what: "unknown token", csr: await makeCsr(), token: `mzt1.${"A".repeat(43)}`, code: grpc.status.UNAUTHENTICATED, reason: "unknown_token", says: /not known/ },
  ];
  for (const c of cases) {
    const before = ca.stats().refused[c.reason] ?? 0;
    const logged = controlLog.withMessage("certificate refused").length;
    const err = await caRefusal(c.csr, c.token);
    assert.equal(err.code, c.code, `${c.what}: ${grpc.status[err.code]} ${err.details}`);
    assert.match(err.details, c.says, c.what);
    assert.equal(ca.stats().refused[c.reason], before + 1, `${c.what} counted as ${c.reason}`);
    const lines = controlLog.withMessage("certificate refused");
    assert.equal(lines.length, logged + 1, `${c.what} logged`);
    assert.equal(lines.at(-1)!.reason, c.reason);
  }
  // Nothing was signed for any of them, and the CA still signs a good request.
  const key = await generateWorkloadKey("ecdsa-p256");
  const chain = await requestCertificate({ ...caOptions(), csrPem: key.csrPem, token: prober });
  assert.match(new X509Certificate(chain[0]!).subjectAltName ?? "", /sa\/prober/);
});

/** Opens an ADS stream for `node` with `token`; resolves with the status it ends with (or "open" when it is served). */
function adsOutcome(serviceAccount: string, token: string | undefined): Promise<{ code: grpc.status | "open"; details: string }> {
  const node = nodeFromFlags({ xds: "", ip: "127.126.1.9", name: "intruder", namespace: "default", labels: "", serviceAccount, ports: "", adminPort: "0", autoRegister: true });
  const opts = caOptions();
  const client = new grpc.Client(opts.address, opts.credentials, opts.channelOptions);
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage>(ADS_PATH, (m) => encodeRequest(m), (b) => decodeResponse(b), md);
    const finish = (v: { code: grpc.status | "open"; details: string }) => {
      call.cancel();
      client.close();
      resolve(v);
    };
    call.on("data", () => finish({ code: "open", details: "a DiscoveryResponse arrived" }));
    call.on("error", (e: grpc.ServiceError) => finish({ code: e.code, details: e.details }));
    call.write({ node: nodeToEnvoy(node) as Record<string, unknown>, type_url: TYPE.cluster, resource_names: [] });
  });
}

test("an ADS stream speaking for another service account than its token is refused", async () => {
  const refused = control.cp.security!.adsRefused;
  const token = control.token("prober");
  const mismatch = await adsOutcome("server", token);
  assert.equal(mismatch.code, grpc.status.PERMISSION_DENIED, mismatch.details);
  assert.match(mismatch.details, /token is for namespace "default", service account "prober" but the proxy says it is default\/server/);
  assert.equal(refused.get("identity_mismatch"), 1);
  assert.ok(controlLog.withMessage(/^ADS stream refused: the token is for/).length >= 1, "the refusal is logged");

  const anonymous = await adsOutcome("prober", undefined);
  assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED, anonymous.details);
  assert.equal(refused.get("missing_token"), 1);

  // The same token with the identity it was issued for is served.
  assert.equal((await adsOutcome("prober", token)).code, "open");
  const metrics = await (await fetch(`http://127.0.0.1:${control.cp.debugPort}/metrics`)).text();
  const bad = /^pilot_xds_bad_requests (\d+)$/m.exec(metrics);
  assert.ok(bad && Number(bad[1]) >= 2, `refused streams are counted in pilot_xds_bad_requests: ${bad?.[0]}`);
});

// ---- the sidecar's STRICT port ----

function mtlsGet(path: string, cert: { certPem: string; keyPem: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: SERVER_IP, port: APP_PORT, path, cert: cert.certPem, key: cert.keyPem, ca: control.rootPem, checkServerIdentity: () => undefined, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve(`${res.statusCode === 200 ? "" : `${res.statusCode} `}${body}`));
        res.on("error", reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends raw bytes to the STRICT port, then ends the connection the way `how` says (FIN, or a
 * reset); resolves with whatever came back and whether the sidecar closed within `closeWithinMs`.
 */
function rawExchange(bytes: Buffer, how: "fin" | "reset" = "fin", closeWithinMs = 5_000): Promise<{ back: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (closed: boolean) => {
      clearTimeout(timer);
      // Still open: a reset frees the sidecar's side at once (a FIN would leave it half-open).
      if (closed) sock.destroy();
      else sock.resetAndDestroy();
      resolve({ back: Buffer.concat(chunks), closed });
    };
    const sock = net.connect({ host: SERVER_IP, port: APP_PORT }, () => {
      if (how === "fin") sock.end(bytes);
      else sock.write(bytes, () => setTimeout(() => sock.resetAndDestroy(), 50));
    });
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", () => {}); // a reset from the sidecar is a refusal too; "close" follows
    sock.on("close", () => done(true));
    const timer = setTimeout(() => done(false), closeWithinMs);
  });
}

/** The first bytes a real TLS client sends: its ClientHello, caught by a listener that never answers. */
async function realClientHello(): Promise<Buffer> {
  const catcher = net.createServer();
  await new Promise<void>((r) => catcher.listen(0, HELLO_CATCHER, () => r()));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      catcher.once("connection", (s) => s.once("data", (hello: Buffer) => {
        s.destroy();
        resolve(hello);
      }));
      const port = (catcher.address() as net.AddressInfo).port;
      tls.connect({ host: HELLO_CATCHER, port, servername: "server.default.svc.cluster.local", cert: good.certPem, key: good.keyPem }).on("error", () => {});
      setTimeout(() => reject(new Error("no ClientHello caught")), 5_000).unref();
    });
  } finally {
    catcher.close();
  }
}

/** Every downstream_cx_rejected.<reason> counter of the server's sidecar. */
async function rejections(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${SERVER_IP}:${server.adminPort}/stats`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^downstream_cx_rejected\.(\S+): (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Runs `attempt`, waits until exactly one more connection is counted as refused, and returns its reason. */
async function refusedReason(attempt: () => Promise<unknown>): Promise<string> {
  const before = await rejections();
  await attempt();
  return waitFor("one more refused connection in /stats", async () => {
    const after = await rejections();
    const grew = [...after].filter(([reason, n]) => n > (before.get(reason) ?? 0));
    const total = grew.reduce((sum, [reason, n]) => sum + n - (before.get(reason) ?? 0), 0);
    return total === 1 ? grew[0]![0] : undefined;
  }, 5_000);
}

async function assertLoggedAndStillServing(reason: string): Promise<void> {
  assert.ok(serverLog.withMessage("connection refused").some((r) => r.reason === reason), `the refusal (${reason}) is logged`);
  assert.equal(await mtlsGet(`/after-${reason}`, good), `served /after-${reason}`, `the sidecar still serves a good request after ${reason}`);
}

test("plaintext to the STRICT port is refused, counted and logged", async () => {
  const reason = await refusedReason(async () => {
    const r = await rawExchange(Buffer.from("GET /plain HTTP/1.1\r\nHost: server\r\n\r\n"));
    assert.equal(r.back.length, 0, `no answer on a STRICT port: ${r.back.toString("latin1").slice(0, 80)}`);
  });
  assert.equal(reason, "plaintext_on_mtls_port");
  await assertLoggedAndStillServing(reason);
});

/** A certificate for default/client signed by `ca`, valid for an hour from `notBefore`. */
async function clientCertificate(ca: SigningCa, notBefore: Date): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateWorkloadKey("ecdsa-p256");
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: workloadIdentity("cluster.local", "default", "client"), lifetimeSeconds: 3600, now: notBefore });
  return { certPem: issued.certPem, keyPem: key.keyPem };
}

test("an expired mesh certificate is refused as tls_expired_client_certificate; the app never sees the request", async () => {
  // Signed by the real mesh CA, but two hours ago for one hour.
  const expired = await clientCertificate(control.cp.security!.ca, new Date(Date.now() - 2 * 3600_000));
  const reason = await refusedReason(() => assert.rejects(mtlsGet("/expired", expired)));
  assert.equal(reason, "tls_expired_client_certificate");
  assert.ok(!appSaw.includes("/expired"));
  await assertLoggedAndStillServing(reason);
});

test("a certificate for a mesh identity from another CA is refused as tls_untrusted_client_certificate", async () => {
  const otherCa = await loadOrCreateSelfSignedRoot({ dir: join(dir, "other-ca"), trustDomain: "cluster.local" });
  const foreign = await clientCertificate(otherCa, new Date());
  const reason = await refusedReason(() => assert.rejects(mtlsGet("/foreign", foreign)));
  assert.equal(reason, "tls_untrusted_client_certificate");
  assert.ok(!appSaw.includes("/foreign"));
  await assertLoggedAndStillServing(reason);
});

test("a truncated ClientHello, then a reset, is refused, counted and logged", async () => {
  const hello = await realClientHello();
  assert.equal(hello[0], 0x16, "a TLS handshake record");
  const reason = await refusedReason(async () => {
    const r = await rawExchange(hello.subarray(0, Math.floor(hello.length / 3)), "reset");
    assert.equal(r.back.length, 0);
  });
  assert.equal(reason, "tls_handshake_aborted");
  await assertLoggedAndStillServing(reason);
});

test("a TLS record of garbage is refused, counted and logged", async () => {
  const reason = await refusedReason(() => rawExchange(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xee)])));
  assert.equal(reason, "tls_handshake_failed");
  await assertLoggedAndStillServing(reason);
});

// The listener is half-open for HTTP's sake; a TLS handshake must still end with the client's FIN
// (it used to wait for the 10 s handshake timeout).
test("a truncated ClientHello, then FIN, is closed at once and counted", async () => {
  const hello = await realClientHello();
  const before = (await rejections()).get("tls_handshake_aborted") ?? 0;
  const r = await rawExchange(hello.subarray(0, Math.floor(hello.length / 3)), "fin", 2_000);
  assert.ok(r.closed, "the sidecar closed the connection within 2 s of the client's FIN");
  await waitFor("the aborted handshake counted", async () => (await rejections()).get("tls_handshake_aborted") === before + 1, 2_000);
  await assertLoggedAndStillServing("tls_handshake_aborted");
});
