import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCa, loadOrCreateSelfSignedRoot, loadPluggedCa } from "./root.ts";
import { signCsr } from "./sign.ts";
import { workloadIdentity } from "./identity.ts";
import { makeCsr, makePluggedCa, openssl, opensslVerify, tempDir } from "./test-kit.ts";

const ID = workloadIdentity("cluster.local", "default", "sleep");

test("creates a self-signed root with a 0600 key and reuses it on restart", async (t) => {
  const dir = join(tempDir(t), "ca");
  const first = await loadOrCreateSelfSignedRoot({ dir, trustDomain: "cluster.local" });
  assert.equal(first.source, "self-signed");
  assert.equal(statSync(join(dir, "root-key.pem")).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "root-cert.pem")).mode & 0o777, 0o644);
  const text = openssl(["x509", "-noout", "-text", "-in", join(dir, "root-cert.pem")]);
  assert.match(text, /CA:TRUE/);
  assert.match(text, /Certificate Sign/);
  assert.match(text, /prime256v1|P-256/);
  assert.match(text, /Issuer: O = cluster.local, CN = Mizzen root CA/);
  const years = (first.cert.notAfter.getTime() - first.cert.notBefore.getTime()) / (365 * 86_400_000);
  assert.ok(years > 9.9 && years < 10.1, `root lives ~10 years, got ${years}`);

  const certBefore = readFileSync(join(dir, "root-cert.pem"), "utf8");
  const second = await loadOrCreateSelfSignedRoot({ dir });
  assert.equal(readFileSync(join(dir, "root-cert.pem"), "utf8"), certBefore, "files untouched on restart");
  assert.equal(second.rootPem, first.rootPem);
  assert.deepEqual(second.chainPem, [second.rootPem]);
  // The reloaded key still signs leaves that chain to the same root.
  const issued = await signCsr(second, { csrPem: await makeCsr(), identity: ID });
  assert.match(opensslVerify(tempDir(t), first.rootPem, issued.certPem), /OK/);
});

test("an RSA root works too", async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateSelfSignedRoot({ dir, keyType: "rsa-2048" });
  assert.match(openssl(["x509", "-noout", "-text", "-in", join(dir, "root-cert.pem")]), /rsaEncryption/);
  const issued = await signCsr(ca, { csrPem: await makeCsr({ key: "rsa" }), identity: ID });
  assert.match(opensslVerify(dir, ca.rootPem, issued.certPem), /OK/);
});

test("a broken self-signed pair is a clear error, never silently replaced", async (t) => {
  const dir = tempDir(t);
  await loadOrCreateSelfSignedRoot({ dir });
  const keyPath = join(dir, "root-key.pem");
  const certPath = join(dir, "root-cert.pem");
  const goodKey = readFileSync(keyPath, "utf8");
  const goodCert = readFileSync(certPath, "utf8");

  // A key from another pair.
  const other = tempDir(t);
  await loadOrCreateSelfSignedRoot({ dir: other });
  writeFileSync(keyPath, readFileSync(join(other, "root-key.pem")), { mode: 0o600 });
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir }), /MIZZEN_E_CA_STORE: .*root-key.pem does not belong to .*root-cert.pem/);

  writeFileSync(keyPath, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir }), /root-key.pem: not a readable PEM private key/);

  writeFileSync(keyPath, goodKey);
  writeFileSync(certPath, "not a certificate");
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir }), /root-cert.pem: expected exactly one PEM certificate, found 0/);
  assert.equal(readFileSync(certPath, "utf8"), "not a certificate", "the broken file is left for the operator");

  writeFileSync(certPath, goodCert);
  chmodSync(keyPath, 0o644);
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir }), /readable by others .*chmod 600/);
  chmodSync(keyPath, 0o600);

  unlinkSync(certPath);
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir }), /root-key.pem exists but .*root-cert.pem does not/);
  assert.ok(!existsSync(certPath));

  writeFileSync(certPath, goodCert);
  await loadOrCreateSelfSignedRoot({ dir }); // restored: loads again
  const future = new Date(Date.now() + 11 * 365 * 86_400_000);
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir, now: future }), /expired on/);
  await assert.rejects(loadOrCreateSelfSignedRoot({ dir: tempDir(t), validityDays: 0 }), /MIZZEN_E_CA_LIFETIME/);
});

for (const chain of ["ca+root", "ca-only", "absent"] as const) {
  test(`loads Istio's cacerts layout (cert-chain.pem ${chain}) and leaves chain to the plugged root`, async (t) => {
    const dir = tempDir(t);
    makePluggedCa(dir, chain);
    const ca = await loadPluggedCa({ dir });
    assert.equal(ca.source, "plugged");
    assert.equal(ca.chainPem.length, 2, "intermediate then root");
    assert.equal(ca.rootPem.trim(), readFileSync(join(dir, "root-cert.pem"), "utf8").trim());
    const issued = await signCsr(ca, { csrPem: await makeCsr(), identity: ID });
    assert.equal(issued.chainPem.length, 3);
    assert.equal(issued.chainPem[2], ca.rootPem);
    const v = tempDir(t);
    assert.match(opensslVerify(v, ca.rootPem, issued.chainPem[0]!, [issued.chainPem[1]!]), /OK/);
    assert.throws(() => opensslVerify(v, issued.chainPem[1]!, issued.chainPem[0]!), "the intermediate alone is not a trust anchor here");
    assert.match(openssl(["x509", "-noout", "-issuer", "-in", join(v, "v-leaf.pem")]), /Mizzen intermediate CA/);
    // loadCa prefers plugged certificates when present, as istiod does.
    const chosen = await loadCa({ dir: join(v, "self"), pluggedDir: dir });
    assert.equal(chosen.source, "plugged");
  });
}

test("a cacerts layout whose ca-cert is not signed by root-cert is refused", async (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  makePluggedCa(a);
  makePluggedCa(b);
  writeFileSync(join(a, "root-cert.pem"), readFileSync(join(b, "root-cert.pem")));
  writeFileSync(join(a, "cert-chain.pem"), "");
  await assert.rejects(loadPluggedCa({ dir: a }), /ca-cert.pem is not signed by .*root-cert.pem/);
  unlinkSync(join(b, "ca-key.pem"));
  await assert.rejects(loadPluggedCa({ dir: b }), /ca-key.pem is missing/);
  // Without plugged files loadCa falls back to (and creates) the self-signed root.
  const self = await loadCa({ dir: join(b, "self"), pluggedDir: join(b, "nothing-here") });
  assert.equal(self.source, "self-signed");
});
