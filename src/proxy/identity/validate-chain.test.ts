import { test } from "node:test";
import assert from "node:assert/strict";
import { workloadIdentity } from "../../ca/identity.ts";
import { loadOrCreateSelfSignedRoot, loadPluggedCa, randomSerialHex } from "../../ca/root.ts";
import { signCsr } from "../../ca/sign.ts";
import { makePluggedCa, tempDir } from "../../ca/test-kit.ts";
import * as x509 from "../../ca/x509.ts";
import { parseTrustBundle, validateIssuedChain } from "./validate-chain.ts";
import { generateWorkloadKey } from "./workload-key.ts";

const REVIEWS = workloadIdentity("cluster.local", "bookinfo", "reviews");
const REVIEWS_ID = "spiffe://cluster.local/ns/bookinfo/sa/reviews";

function refused(reason: string, message: RegExp) {
  return (e: { code: string; reason: string; message: string }) => {
    assert.equal(e.code, "MIZZEN_E_IDENTITY_BAD_RESPONSE");
    assert.equal(e.reason, reason, e.message);
    assert.match(e.message, message);
    return true;
  };
}

test("a chain through an intermediate: leaf and intermediate are presented, the root is the trust bundle; the root may be left out", async (t) => {
  const dir = tempDir(t);
  makePluggedCa(dir);
  const ca = await loadPluggedCa({ dir });
  const trust = parseTrustBundle(ca.rootPem, "root");
  const key = await generateWorkloadKey("ecdsa-p256");
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS, lifetimeSeconds: 3600 });
  assert.equal(issued.chainPem.length, 3);
  const now = new Date();
  const cert = await validateIssuedChain(issued.chainPem, key, trust, now);
  assert.equal(cert.spiffeId, REVIEWS_ID);
  assert.equal(cert.certChainPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
  assert.ok(cert.certChainPem.startsWith(issued.certPem.trim()));
  assert.equal(cert.rootsPem, trust.pem);
  assert.equal(cert.serial, issued.serialNumber);
  assert.equal(cert.keyPem, key.keyPem);
  const withoutRoot = await validateIssuedChain(issued.chainPem.slice(0, 2), key, trust, now);
  assert.equal(withoutRoot.certChainPem, cert.certChainPem);
  // One PEM string holding the whole chain (some CAs answer that way) reads the same.
  assert.equal((await validateIssuedChain([issued.chainPem.join("")], key, trust, now)).certChainPem, cert.certChainPem);
});

test("answers that are refused, each with its reason", async (t) => {
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  const otherCa = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  const trust = parseTrustBundle(ca.rootPem, "root");
  const key = await generateWorkloadKey("ecdsa-p256");
  const otherKey = await generateWorkloadKey("ecdsa-p256");
  const now = new Date();
  const good = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS });

  await assert.rejects(validateIssuedChain([], key, trust, now), refused("empty_chain", /empty/));
  await assert.rejects(validateIssuedChain(["hello"], key, trust, now), refused("bad_chain", /no PEM certificate/));
  await assert.rejects(validateIssuedChain(["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"], key, trust, now), refused("bad_chain", /#1 .*not valid X\.509/));
  const forOther = await signCsr(ca, { csrPem: otherKey.csrPem, identity: REVIEWS });
  await assert.rejects(validateIssuedChain(forOther.chainPem, key, trust, now), refused("key_mismatch", /not carry this sidecar's public key/));
  const foreign = await signCsr(otherCa, { csrPem: key.csrPem, identity: REVIEWS });
  await assert.rejects(validateIssuedChain(foreign.chainPem, key, trust, now), refused("untrusted_root", /not a mesh root this sidecar trusts/));
  await assert.rejects(validateIssuedChain([good.certPem, otherCa.rootPem], key, trust, now), refused("broken_chain", /not signed by certificate #2/));
  const expired = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS, lifetimeSeconds: 60, now: new Date(now.getTime() - 3_600_000) });
  await assert.rejects(validateIssuedChain(expired.chainPem, key, trust, now), refused("expired", /expired at/));
  const future = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS, lifetimeSeconds: 60, now: new Date(now.getTime() + 3_600_000) });
  await assert.rejects(validateIssuedChain(future.chainPem, key, trust, now), refused("not_yet_valid", /check the clocks/));

  // A leaf without a SPIFFE ID (a DNS-only server certificate, say).
  const keys = await crypto.subtle.importKey("spki", key.spkiDer, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const dnsOnly = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: "CN=reviews",
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - 1000),
    notAfter: new Date(now.getTime() + 3_600_000),
    publicKey: keys,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "reviews" }])],
  });
  await assert.rejects(validateIssuedChain([dnsOnly.toString("pem"), ca.rootPem], key, trust, now), refused("no_spiffe_id", /exactly one spiffe:\/\/ URI SAN, it carries none/));

  // A trust bundle with both roots (a root rotation in progress) accepts either.
  const both = parseTrustBundle(ca.rootPem + otherCa.rootPem, "roots");
  assert.equal(both.roots.length, 2);
  assert.equal((await validateIssuedChain(foreign.chainPem, key, both, now)).spiffeId, REVIEWS_ID);
});

test("node:crypto checks: RSA keys, a key of another type, a CA leaf, names printed on one line", async (t) => {
  const dir = tempDir(t);
  makePluggedCa(dir);
  const plugged = await loadPluggedCa({ dir });
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t), keyType: "rsa-2048" });
  const trust = parseTrustBundle(ca.rootPem, "root");
  const now = new Date();
  const rsa = await generateWorkloadKey("rsa-2048");
  const ec = await generateWorkloadKey("ecdsa-p256");
  const forRsa = await signCsr(ca, { csrPem: rsa.csrPem, identity: REVIEWS });
  assert.equal((await validateIssuedChain(forRsa.chainPem, rsa, trust, now)).spiffeId, REVIEWS_ID);
  // A certificate for an RSA key checked against an EC key: refused, not thrown past the check.
  await assert.rejects(validateIssuedChain(forRsa.chainPem, ec, trust, now), refused("key_mismatch", /public key/));

  // An empty-subject leaf is named "leaf"; distinguished names read "O=..., CN=..." as before.
  const forEc = await signCsr(plugged, { csrPem: ec.csrPem, identity: REVIEWS });
  await assert.rejects(validateIssuedChain([forEc.certPem, ca.rootPem], ec, trust, now), refused("broken_chain", /#1 \(leaf\) is not signed by certificate #2 \(O=cluster\.local, CN=/));
  await assert.rejects(validateIssuedChain(forEc.chainPem, ec, trust, now), refused("untrusted_root", /ends in "O=Operator Inc, CN=Operator Root CA", issued by "O=Operator Inc, CN=Operator Root CA".*\("O=cluster\.local, CN=/));

  // A CA certificate for our own key, with a SPIFFE ID, is still not a workload certificate.
  const publicKey = await crypto.subtle.importKey("spki", ec.spkiDer, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const caLeaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: "CN=not-a-workload",
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - 1000),
    notAfter: new Date(now.getTime() + 3_600_000),
    publicKey,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: "url", value: REVIEWS_ID }], true)],
  });
  await assert.rejects(validateIssuedChain([caLeaf.toString("pem"), ca.rootPem], ec, trust, now), refused("leaf_is_ca", /CA certificate/));
});
