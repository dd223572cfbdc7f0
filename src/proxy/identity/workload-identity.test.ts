import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { certificateServiceDefinition } from "../../ca/proto.ts";
import { signCsr } from "../../ca/sign.ts";
import { makeCsr, opensslVerify, tempDir } from "../../ca/test-kit.ts";
import { isIdentityError, type IdentityError } from "./errors.ts";
import { captureLogs, issueServerCert, managerFor, PRODUCTPAGE, REVIEWS, REVIEWS_ID, startTestCa, waitFor } from "./test-kit.ts";
import { clientTlsOptions, serverTlsOptions } from "./tls-contexts.ts";
import type { WorkloadCertificate } from "./validate-chain.ts";
import { WorkloadIdentityManager } from "./workload-identity.ts";

function identityError(code: string, message: RegExp) {
  return (e: IdentityError) => {
    assert.ok(isIdentityError(e), `not an IdentityError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  };
}

/** Every regular file under `dir` changed since `sinceMs` (skipping what cannot be read). */
function filesChangedSince(dir: string, sinceMs: number, depth = 3): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory() && depth > 0) out.push(...filesChangedSince(p, sinceMs, depth - 1));
      else if (st.isFile() && st.mtimeMs >= sinceMs && st.size < 4_000_000) out.push(p);
    } catch {
      // vanished or unreadable: not ours
    }
  }
  return out;
}

test("first certificate from a real CA over TLS: the token's SPIFFE ID, a chain to the mesh root, a key that stays in memory", async (t) => {
  const startedAt = Date.now() - 1000;
  const { logger, lines } = captureLogs();
  const ca = await startTestCa(t);
  const token = ca.token(REVIEWS);
  const m = new WorkloadIdentityManager({ caAddress: ca.address, token, caRootPem: ca.rootPem, logger, metadata: { WorkloadName: "reviews-v1" } });
  t.after(() => m.stop());
  assert.throws(() => m.current(), /await start\(\) first/);
  await m.start();
  const cert = m.current();

  assert.equal(cert.spiffeId, REVIEWS_ID);
  assert.equal(cert.rootsPem, ca.rootPem);
  assert.equal(cert.certChainPem.match(/BEGIN CERTIFICATE/g)?.length, 1, "leaf only: the root that signed it is not presented");
  assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 24 * 3600 * 1000, "the CA's default lifetime");
  const leaf = new X509Certificate(cert.certChainPem);
  assert.equal(leaf.serialNumber.toLowerCase(), cert.serial.toLowerCase());
  assert.equal(leaf.subjectAltName, `URI:${REVIEWS_ID}`);
  const key = createPrivateKey(cert.keyPem);
  assert.equal(key.asymmetricKeyType, "ec");
  assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.ok(leaf.checkPrivateKey(key), "the leaf carries our key");
  assert.match(opensslVerify(tempDir(t), ca.rootPem, cert.certChainPem), /OK/);

  const obtained = lines.find((l) => l.msg === "workload certificate obtained");
  assert.equal(obtained?.spiffeId, REVIEWS_ID);
  assert.equal(obtained?.serial, cert.serial);
  const logText = JSON.stringify(lines);
  const keyBody = cert.keyPem.split("\n").slice(1, -2).join("");
  assert.ok(!logText.includes(keyBody.slice(0, 40)) && !logText.includes(token.slice(5)), "neither the key nor the token is logged");

  // The key never reaches the disk: no file changed during this test under the temp dir holds it,
  // and no module of the identity code touches node:fs.
  for (const f of filesChangedSince(tmpdir(), startedAt)) {
    let text = "";
    try {
      text = readFileSync(f, "latin1");
    } catch {
      continue;
    }
    assert.ok(!text.includes(keyBody.slice(0, 64)), `${f} holds the workload's private key`);
  }
  const here = new URL(".", import.meta.url);
  for (const name of readdirSync(here).filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts") && n !== "test-kit.ts" && !n.includes("bench"))) {
    assert.doesNotMatch(readFileSync(new URL(name, here), "utf8"), /from "(node:)?fs(\/promises)?"/, `${name} imports fs`);
  }
});

test("keyType rsa-2048 gets an RSA certificate", async (t) => {
  const ca = await startTestCa(t);
  const m = managerFor(t, ca, REVIEWS, { keyType: "rsa-2048", lifetimeSeconds: 600 });
  await m.start();
  const key = createPrivateKey(m.current().keyPem);
  assert.equal(key.asymmetricKeyType, "rsa");
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(m.current().notAfter.getTime() - m.current().notBefore.getTime(), 600_000);
});

function nextRotation(m: WorkloadIdentityManager): Promise<{ next: WorkloadCertificate; previous: WorkloadCertificate; at: number }> {
  return new Promise((resolve) => {
    const off = m.onRotate((next, previous) => {
      off();
      resolve({ next, previous, at: Date.now() });
    });
  });
}

/** Opens an mTLS connection to `port` and resolves once it is up. */
function connectMtls(port: number, cert: WorkloadCertificate, expectedSans: readonly string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ ...clientTlsOptions(cert, { expectedSans }), host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once("data", (d: Buffer) => resolve(d.toString()));
    socket.once("error", reject);
    socket.write(text);
  });
}

test("rotation at about half the lifetime: a connection opened before keeps working, new ones get the new certificate", async (t) => {
  const { logger, lines } = captureLogs();
  const ca = await startTestCa(t);
  const server = managerFor(t, ca, REVIEWS, { lifetimeSeconds: 4, logger });
  const client = managerFor(t, ca, PRODUCTPAGE, { lifetimeSeconds: 3600 });
  await Promise.all([server.start(), client.start()]);
  const first = server.current();

  const srv = tls.createServer(serverTlsOptions(first, { mode: "ISTIO_MUTUAL" }), (s) => s.pipe(s));
  srv.on("tlsClientError", () => {});
  t.after(() => srv.close());
  server.onRotate((next) => srv.setSecureContext(serverTlsOptions(next, { mode: "ISTIO_MUTUAL" })));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;

  const early = await connectMtls(port, client.current(), [REVIEWS_ID]);
  t.after(() => early.destroy());
  assert.equal(early.getPeerX509Certificate()?.serialNumber.toLowerCase(), first.serial.toLowerCase());
  assert.equal(await echo(early, "before"), "before");

  const { next, previous, at } = await nextRotation(server);
  assert.equal(previous, first);
  const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
  assert.ok(at >= first.notBefore.getTime() + lifetime * 0.49, "not before rotateAt minus the jitter");
  assert.ok(at < first.notAfter.getTime(), "before the old certificate expired");
  assert.notEqual(next.serial, first.serial);
  assert.notEqual(next.keyPem, first.keyPem, "a new key for each certificate");
  assert.equal(next.spiffeId, REVIEWS_ID);
  assert.ok(next.notAfter > first.notAfter);
  assert.equal(server.current(), next);

  assert.equal(await echo(early, "after"), "after", "the connection made before rotation still works");
  const late = await connectMtls(port, client.current(), [REVIEWS_ID]);
  t.after(() => late.destroy());
  assert.equal(late.getPeerX509Certificate()?.serialNumber.toLowerCase(), next.serial.toLowerCase());
  assert.equal(await echo(late, "new"), "new");
  const rotated = lines.find((l) => l.msg === "workload certificate rotated");
  assert.equal(rotated?.previousSerial, first.serial);
  assert.equal(rotated?.serial, next.serial);
});

test("CA down at rotation: the old certificate stays, each failure reason is logged once, rotation succeeds when the CA returns", async (t) => {
  const { logger, lines } = captureLogs();
  const ca = await startTestCa(t);
  const m = managerFor(t, ca, REVIEWS, { lifetimeSeconds: 4, logger, retryInitialMs: 100 });
  await m.start();
  const first = m.current();
  await ca.close();

  const failures = () => lines.filter((l) => l.during === "rotation" && l.reason === "ca_unreachable");
  await waitFor("three failed rotation attempts", () => failures().length >= 3);
  assert.equal(m.current(), first, "the old certificate is kept");
  const loud = failures().filter((l) => (l.level as number) >= 40);
  assert.equal(loud.length, 1, "logged once as a warning (or error), repeats only at debug");
  assert.match(String(loud[0]!.msg), /CA at 127\.0\.0\.1:\d+ is unreachable.*keeping the current certificate|has expired/);

  const rotated = nextRotation(m);
  await ca.restart();
  const { next } = await rotated;
  assert.notEqual(next.serial, first.serial);
  assert.equal(m.current(), next);
  const info = lines.find((l) => l.msg === "workload certificate rotated");
  assert.ok((info?.failedAttempts as number) >= 3, "the recovery names how many attempts failed");

  // A new streak logs its reason again.
  await ca.close();
  await waitFor("a failure in the next streak", () => failures().filter((l) => (l.level as number) >= 40).length === 2);
});

test("a certificate that runs out while the CA is down is logged as an error", async (t) => {
  const { logger, lines } = captureLogs();
  const ca = await startTestCa(t);
  const m = managerFor(t, ca, REVIEWS, { lifetimeSeconds: 2, logger, retryInitialMs: 100 });
  await m.start();
  await ca.close();
  await waitFor("the expiry error", () => lines.some((l) => l.level === 50 && /EXPIRED/.test(String(l.msg))));
  assert.equal(lines.find((l) => /EXPIRED/.test(String(l.msg)))?.serial, m.current().serial);
});

test("start(): a refused token fails at once and says so; an unreachable CA or a failed TLS check fails at the deadline with what to fix", async (t) => {
  const ca = await startTestCa(t);
  const other = await startTestCa(t);
  const plain = await startTestCa(t, { plaintext: true });
  const quick = { startTimeoutMs: 800, retryInitialMs: 100 };
  const mk = (o: Partial<ConstructorParameters<typeof WorkloadIdentityManager>[0]>) => {
    const m = new WorkloadIdentityManager({ caAddress: ca.address, token: ca.token(REVIEWS), caRootPem: ca.rootPem, ...quick, ...o });
    t.after(() => m.stop());
    return m;
  };

  const { logger, lines } = captureLogs();
  await assert.rejects(mk({ token: `mzt1.${"A".repeat(43)}`, startTimeoutMs: 60_000, logger }).start(), identityError("MIZZEN_E_IDENTITY_TOKEN", /refused the bootstrap token: .*not known to this control plane/));
  assert.deepEqual(lines.map((l) => [l.level, l.reason]), [[50, "token_refused"]], "a refused token is logged once and not retried");
  await assert.rejects(mk({ token: other.token(REVIEWS) }).start(), identityError("MIZZEN_E_IDENTITY_TOKEN", /not known/));
  await assert.rejects(mk({ caAddress: "127.0.0.1:1" }).start(), identityError("MIZZEN_E_IDENTITY_CA_UNREACHABLE", /no workload certificate after 1 s .*127\.0\.0\.1:1 is unreachable: connect ECONNREFUSED/));
  await assert.rejects(mk({ caServerName: "istiod.other.svc" }).start(), identityError("MIZZEN_E_IDENTITY_CA_TLS", /altnames.*DNS name "istiod\.other\.svc"/));
  await assert.rejects(mk({ caRootPem: other.rootPem }).start(), identityError("MIZZEN_E_IDENTITY_CA_TLS", /TLS to the CA .* failed: .*chain to the configured mesh root/));
  await assert.rejects(mk({ caAddress: plain.address }).start(), identityError("MIZZEN_E_IDENTITY_CA_TLS", /wrong version number.*is the CA's TLS port/));
  // Istio's serving name works too, and the DNS SAN check is what passes, not the IP.
  const m = mk({ caServerName: "istiod.istio-system.svc" });
  await m.start();
  assert.equal(m.current().spiffeId, REVIEWS_ID);
});

test("bad options fail at construction with the fix", async (t) => {
  const ca = await startTestCa(t);
  const base = { caAddress: ca.address, token: "mzt1.x", caRootPem: ca.rootPem };
  const refuse = (o: object, re: RegExp) => assert.throws(() => new WorkloadIdentityManager({ ...base, ...o }), identityError("MIZZEN_E_IDENTITY_CONFIG", re));
  refuse({ caAddress: "ca.mesh" }, /not host:port/);
  refuse({ token: " " }, /no bootstrap token/);
  refuse({ caRootPem: "not a certificate" }, /caRootPem holds no PEM certificate/);
  refuse({ caRootPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }, /certificate #1 is not valid X\.509/);
  refuse({ rotateAt: 1.5 }, /rotateAt must be a number between 0 and 1/);
  refuse({ rotateJitter: 0.6 }, /rotateJitter/);
  refuse({ lifetimeSeconds: -1 }, /lifetimeSeconds/);
  refuse({ keyType: "dsa" }, /keyType/);
  refuse({ caServerName: "10.0.0.1" }, /must be a DNS name/);
});

test("a CA answering a chain for another key is refused with the reason, and start() reports it", async (t) => {
  const ca = await startTestCa(t);
  const serving = await issueServerCert(ca.ca, ["mizzen-control"]);
  const server = new grpc.Server();
  server.addService(certificateServiceDefinition, {
    CreateCertificate: (_call: unknown, cb: grpc.sendUnaryData<{ cert_chain: string[] }>) => {
      // Signs a CSR of its own instead of ours.
      void makeCsr()
        .then((csrPem) => signCsr(ca.ca, { csrPem, identity: REVIEWS }))
        .then((issued) => cb(null, { cert_chain: issued.chainPem }));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certPem) }], false), (e, p) => (e ? reject(e) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  const { logger, lines } = captureLogs();
  const m = new WorkloadIdentityManager({ caAddress: `127.0.0.1:${port}`, token: "mzt1.any", caRootPem: ca.rootPem, logger, startTimeoutMs: 600, retryInitialMs: 100 });
  await assert.rejects(m.start(), identityError("MIZZEN_E_IDENTITY_BAD_RESPONSE", /does not carry this sidecar's public key/));
  assert.equal(lines.filter((l) => l.reason === "key_mismatch" && l.level === 40).length, 1);
});
