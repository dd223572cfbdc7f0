import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { loadOrCreateSelfSignedRoot, type SigningCa } from "./root.ts";
import { DEFAULT_LIFETIME_SECONDS, lifetimePolicy, readCsr, resolveLifetime, signCsr } from "./sign.ts";
import { workloadIdentity } from "./identity.ts";
import { makeCsr, openssl, opensslVerify, tempDir } from "./test-kit.ts";

const ID = workloadIdentity("cluster.local", "bookinfo", "bookinfo-ratings");
const SPIFFE = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings";

let shared: Promise<SigningCa> | undefined;
function ca(t: { after: (fn: () => void) => void }): Promise<SigningCa> {
  shared ??= loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  return shared;
}

test("signs an openssl-made CSR with exactly the entitled URI SAN, mTLS usages and 24 h, verified by openssl", async (t) => {
  const dir = tempDir(t);
  const root = await ca(t);
  // The CSR comes from openssl, an independent implementation, and asks for the right identity.
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "r.csr",
    "-subj", "/O=ignored", "-addext", `subjectAltName=URI:${SPIFFE}`], { cwd: dir });
  const csrPem = openssl(["req", "-in", "r.csr"], { cwd: dir });
  const now = new Date();
  const issued = await signCsr(root, { csrPem, identity: ID, now });
  assert.equal(issued.spiffeId, SPIFFE);
  assert.equal(issued.chainPem.length, 2);
  assert.equal(issued.chainPem[0], issued.certPem);
  assert.equal(issued.chainPem[1], root.rootPem);
  assert.equal((issued.notAfter.getTime() - issued.notBefore.getTime()) / 1000, DEFAULT_LIFETIME_SECONDS);
  assert.equal(issued.truncatedToCa, false);

  assert.match(opensslVerify(dir, root.rootPem, issued.certPem), /v-leaf.pem: OK/);
  const text = openssl(["x509", "-noout", "-text", "-in", join(dir, "v-leaf.pem")]);
  assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/bookinfo\/sa\/bookinfo-ratings\s*\n/);
  assert.match(text, /CA:FALSE/);
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.doesNotMatch(text, /ignored/, "nothing from the CSR's subject is copied");
  assert.match(text, /Issuer: O = cluster.local, CN = Mizzen root CA/);
  // The public key in the leaf is the CSR's key: the leaf matches openssl's private key.
  const leafPub = openssl(["x509", "-noout", "-pubkey", "-in", join(dir, "v-leaf.pem")]);
  const keyPub = openssl(["pkey", "-pubout", "-in", join(dir, "k.pem")]);
  assert.equal(leafPub, keyPub);
  // Both purposes check out with openssl.
  assert.match(openssl(["verify", "-purpose", "sslserver", "-CAfile", join(dir, "v-root.pem"), join(dir, "v-leaf.pem")]), /OK/);
  assert.match(openssl(["verify", "-purpose", "sslclient", "-CAfile", join(dir, "v-root.pem"), join(dir, "v-leaf.pem")]), /OK/);
});

test("a CSR with no SAN gets the entitled identity; a requested lifetime is honoured", async (t) => {
  const root = await ca(t);
  const issued = await signCsr(root, { csrPem: await makeCsr({ key: "rsa" }), identity: ID, lifetimeSeconds: 3600 });
  assert.equal((issued.notAfter.getTime() - issued.notBefore.getTime()) / 1000, 3600);
  const dir = tempDir(t);
  writeFileSync(join(dir, "leaf.pem"), issued.certPem);
  assert.match(openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", join(dir, "leaf.pem")]), new RegExp(`URI:${SPIFFE.replace(/[/.]/g, "\\$&")}`));
});

test("a CSR asking for another identity is refused, naming both", async (t) => {
  const root = await ca(t);
  const other = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  await assert.rejects(signCsr(root, { csrPem: await makeCsr({ uris: [other] }), identity: ID }), (e: Error & { code?: string; reason?: string }) => {
    assert.equal(e.code, "MIZZEN_E_CA_SAN_MISMATCH");
    assert.equal(e.reason, "identity_mismatch");
    assert.ok(e.message.includes(other) && e.message.includes(SPIFFE), e.message);
    return true;
  });
  // Asking for the right identity plus anything else is refused too.
  await assert.rejects(signCsr(root, { csrPem: await makeCsr({ uris: [SPIFFE], dns: ["ratings.bookinfo.svc"] }), identity: ID }), /"dns:ratings.bookinfo.svc" but the caller is entitled only to/);
});

test("garbage, truncated, tampered and weak CSRs are refused with a clear error", async (t) => {
  const root = await ca(t);
  const good = await makeCsr({ uris: [SPIFFE] });
  const body = good.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  // Same structure, one letter of the requested identity changed: only the signature can tell.
  const tampered = (() => {
    const der = Buffer.from(body, "base64");
    const at = der.indexOf("bookinfo-ratings");
    assert.ok(at > 0);
    der[at] = "c".charCodeAt(0);
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
  })();
  const cases: Array<[string, RegExp]> = [
    ["", /the CSR is empty/],
    ["hello", /found 0/],
    ["-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", /not a valid PKCS#10 request/],
    [`-----BEGIN CERTIFICATE REQUEST-----\n${body.slice(0, 80)}\n-----END CERTIFICATE REQUEST-----\n`, /not a valid PKCS#10 request/],
    [good + good, /found 2/],
    [tampered, /signature does not match its public key/],
    [await makeCsr({ key: "rsa", rsaBits: 1024 }), /1024 bits is too weak/],
    ["x".repeat(70_000), /more than the 65536/],
  ];
  for (const [csrPem, why] of cases) {
    await assert.rejects(signCsr(root, { csrPem, identity: ID }), (e: Error & { code?: string }) => e.code === "MIZZEN_E_CA_CSR" && why.test(e.message), `${csrPem.slice(0, 30)} -> ${why}`);
  }
  await assert.rejects(readCsr(undefined as unknown as string), /empty/);
});

test("lifetime options are validated: default, maximum, requested", async (t) => {
  const p = lifetimePolicy();
  assert.deepEqual(p, { defaultSeconds: 86_400, maxSeconds: 90 * 86_400 });
  assert.equal(resolveLifetime(undefined, p), 86_400);
  assert.equal(resolveLifetime(0, p), 86_400);
  assert.equal(resolveLifetime(600, p), 600);
  for (const bad of [-1, 1.5, Number.NaN, Infinity, 91 * 86_400]) assert.throws(() => resolveLifetime(bad, p), /MIZZEN_E_CA_LIFETIME/, String(bad));
  assert.throws(() => resolveLifetime(91 * 86_400, p), /exceeds the maximum 7776000s/);
  assert.throws(() => lifetimePolicy({ defaultSeconds: 0 }), /default certificate lifetime must be a positive whole number/);
  assert.throws(() => lifetimePolicy({ maxSeconds: -5 }), /maximum certificate lifetime/);
  assert.throws(() => lifetimePolicy({ defaultSeconds: 7200, maxSeconds: 3600 }), /exceeds the maximum 3600s/);
  assert.throws(() => lifetimePolicy({ defaultSeconds: "1h" as unknown as number }), /got 1h/);
  const root = await ca(t);
  await assert.rejects(signCsr(root, { csrPem: await makeCsr(), identity: ID, lifetimeSeconds: 7200, policy: lifetimePolicy({ defaultSeconds: 60, maxSeconds: 3600 }) }), /MIZZEN_E_CA_LIFETIME/);
  // A leaf never outlives its CA: near the root's end, the lifetime is cut to the root's expiry.
  const late = new Date(root.cert.notAfter.getTime() - 3600_000);
  const cut = await signCsr(root, { csrPem: await makeCsr(), identity: ID, now: late });
  assert.equal(cut.truncatedToCa, true);
  assert.equal(cut.notAfter.getTime(), root.cert.notAfter.getTime());
});
