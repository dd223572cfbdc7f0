import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { workloadIdentity } from "../../ca/identity.ts";
import { loadOrCreateSelfSignedRoot } from "../../ca/root.ts";
import { readCsr, requestedNames, signCsr } from "../../ca/sign.ts";
import { tempDir } from "../../ca/test-kit.ts";
import { parseTrustBundle, validateIssuedChain } from "./validate-chain.ts";
import { generateWorkloadKey, type WorkloadKeyType } from "./workload-key.ts";

const REVIEWS = workloadIdentity("cluster.local", "bookinfo", "reviews");
const REVIEWS_ID = "spiffe://cluster.local/ns/bookinfo/sa/reviews";

const TYPES: Array<[WorkloadKeyType, string, Record<string, unknown>]> = [
  ["ecdsa-p256", "ec", { namedCurve: "prime256v1" }],
  ["rsa-2048", "rsa", { modulusLength: 2048, publicExponent: 65537n }],
];

for (const [type, keyType, details] of TYPES) {
  test(`${type}: one in-memory key, its PEM and SPKI agree, and each call makes a new key`, async () => {
    const key = await generateWorkloadKey(type);
    assert.equal(key.type, type);
    assert.equal(key.privateKey.type, "private");
    assert.equal(key.privateKey.asymmetricKeyType, keyType);
    for (const [k, v] of Object.entries(details)) assert.equal(key.privateKey.asymmetricKeyDetails?.[k as "namedCurve"], v, k);
    assert.match(key.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(createPrivateKey(key.keyPem).equals(key.privateKey));
    assert.deepEqual(createPublicKey(key.privateKey).export({ type: "spki", format: "der" }), key.spkiDer);
    const other = await generateWorkloadKey(type);
    assert.notDeepEqual(other.spkiDer, key.spkiDer);
  });

  test(`${type}: the mesh CA signs the CSR, and the chain it answers validates`, async (t) => {
    const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
    const key = await generateWorkloadKey(type);
    const csr = await readCsr(key.csrPem);
    assert.deepEqual(Buffer.from(csr.publicKey.rawData), key.spkiDer);
    assert.deepEqual(requestedNames(csr), []);
    const issued = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS, lifetimeSeconds: 3600 });
    const cert = await validateIssuedChain(issued.chainPem, key, parseTrustBundle(ca.rootPem, "root"), new Date());
    assert.equal(cert.spiffeId, REVIEWS_ID);
    assert.equal(cert.keyPem, key.keyPem);
    assert.equal(cert.serial, issued.serialNumber);
    assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 3600_000);
  });
}

test("a CSR naming its SPIFFE ID is signed for that identity and refused for another", async (t) => {
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  const key = await generateWorkloadKey("ecdsa-p256", { spiffeId: REVIEWS_ID });
  assert.deepEqual(requestedNames(await readCsr(key.csrPem)), [REVIEWS_ID]);
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: REVIEWS });
  assert.equal(issued.spiffeId, REVIEWS_ID);
  await assert.rejects(signCsr(ca, { csrPem: key.csrPem, identity: workloadIdentity("cluster.local", "bookinfo", "ratings") }), (e: { code: string; message: string }) => {
    assert.equal(e.code, "MIZZEN_E_CA_SAN_MISMATCH");
    assert.match(e.message, /asks for "spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews"/);
    return true;
  });
});

test("a spiffeId that is not a printable-ASCII spiffe:// URI is a configuration error", async () => {
  for (const bad of ["https://x", "spiffe://", "spiffe://td/ns/ä/sa/b", "spiffe://td/a b"]) {
    await assert.rejects(generateWorkloadKey("ecdsa-p256", { spiffeId: bad }), (e: { code: string; message: string }) => {
      assert.equal(e.code, "MIZZEN_E_IDENTITY_CONFIG");
      assert.match(e.message, /is not a spiffe:\/\/ URI/);
      return true;
    }, bad);
  }
});
