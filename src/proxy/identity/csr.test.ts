import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readCsr, requestedNames } from "../../ca/sign.ts";
import { buildCsrDer, csrPem } from "./csr.ts";

const SPIFFE_ID = "spiffe://cluster.local/ns/bookinfo/sa/reviews";

const KEYS: Record<string, () => { publicKey: KeyObject; privateKey: KeyObject }> = {
  "ECDSA P-256": () => generateKeyPairSync("ec", { namedCurve: "P-256" }),
  "RSA 2048": () => generateKeyPairSync("rsa", { modulusLength: 2048 }),
};

function opensslReq(pem: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("openssl", ["req", "-verify", "-noout", "-text"], { input: pem, encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const [name, makeKeys] of Object.entries(KEYS)) {
  const ec = name.startsWith("ECDSA");

  test(`${name}: the CA's readCsr accepts the request, with this key and no name`, async () => {
    const { publicKey, privateKey } = makeKeys();
    const csr = await readCsr(csrPem(buildCsrDer({ publicKey, privateKey })));
    assert.deepEqual(Buffer.from(csr.publicKey.rawData), publicKey.export({ type: "spki", format: "der" }));
    assert.equal(csr.subject, "");
    assert.deepEqual(requestedNames(csr), []);
    const algorithm = csr.signatureAlgorithm as unknown as { name: string; hash: { name: string } };
    assert.deepEqual([algorithm.name, algorithm.hash.name], [ec ? "ECDSA" : "RSASSA-PKCS1-v1_5", "SHA-256"]);
  });

  test(`${name}: a SPIFFE ID is asked for as the only, critical, URI SAN`, async () => {
    const { publicKey, privateKey } = makeKeys();
    const csr = await readCsr(csrPem(buildCsrDer({ publicKey, privateKey, uriSans: [SPIFFE_ID] })));
    assert.deepEqual(requestedNames(csr), [SPIFFE_ID]);
    assert.equal(csr.extensions.length, 1);
    assert.equal(csr.extensions[0]!.type, "2.5.29.17");
    assert.equal(csr.extensions[0]!.critical, true);
  });

  test(`${name}: openssl req -verify accepts the request and reads what it asks for`, () => {
    const { publicKey, privateKey } = makeKeys();
    const plain = opensslReq(csrPem(buildCsrDer({ publicKey, privateKey })));
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout + plain.stderr, /verify OK/);
    assert.match(plain.stdout, /Version: 1 \(0x0\)/);
    assert.match(plain.stdout, ec ? /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/ : /Public Key Algorithm: rsaEncryption[\s\S]*Public-Key: \(2048 bit\)/);
    assert.match(plain.stdout, ec ? /Signature Algorithm: ecdsa-with-SHA256/ : /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(plain.stdout, /Attributes:\s+\(none\)/);
    assert.doesNotMatch(plain.stdout, /Subject Alternative Name/);

    const named = opensslReq(csrPem(buildCsrDer({ publicKey, privateKey, uriSans: [SPIFFE_ID] })));
    assert.equal(named.status, 0, named.stderr);
    assert.match(named.stdout + named.stderr, /verify OK/);
    assert.match(named.stdout, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews\s/);
  });

  test(`${name}: a request altered after signing is refused by the CA and by openssl`, async () => {
    const { publicKey, privateKey } = makeKeys();
    const der = buildCsrDer({ publicKey, privateKey, uriSans: [SPIFFE_ID] });
    const at = der.indexOf(Buffer.from("reviews"));
    assert.ok(at > 0);
    der[at] = "v".charCodeAt(0); // "veviews": same length, so only the signature is now wrong
    const altered = csrPem(der);
    await assert.rejects(readCsr(altered), (e: { reason: string }) => e.reason === "bad_csr_signature");
    // OpenSSL 3.0 exits 0 either way; it says which.
    const r = opensslReq(altered);
    assert.match(r.stdout + r.stderr, /verify failure/);
    assert.doesNotMatch(r.stdout + r.stderr, /verify OK/);
  });
}

test("a request signed with another key than it carries fails verification", async () => {
  const a = KEYS["ECDSA P-256"]!();
  const b = KEYS["ECDSA P-256"]!();
  await assert.rejects(readCsr(csrPem(buildCsrDer({ publicKey: a.publicKey, privateKey: b.privateKey }))), (e: { reason: string }) => e.reason === "bad_csr_signature");
});

test("keys other than EC and RSA, and non-ASCII URIs, are refused before signing", () => {
  const ed = generateKeyPairSync("ed25519");
  assert.throws(() => buildCsrDer(ed), /EC or RSA key, not "ed25519"/);
  const ec = KEYS["ECDSA P-256"]!();
  assert.throws(() => buildCsrDer({ ...ec, uriSans: ["spiffe://tö/x"] }), RangeError);
});

test("PEM: 64-column base64 lines that decode to the DER", () => {
  const der = buildCsrDer(KEYS["ECDSA P-256"]!());
  const pem = csrPem(der);
  const lines = pem.trimEnd().split("\n");
  assert.equal(lines[0], "-----BEGIN CERTIFICATE REQUEST-----");
  assert.equal(lines.at(-1), "-----END CERTIFICATE REQUEST-----");
  assert.ok(lines.slice(1, -1).every((l, i, all) => l.length === 64 || (i === all.length - 1 && l.length <= 64)));
  const back = execFileSync("openssl", ["req", "-outform", "DER"], { input: pem });
  assert.deepEqual(back, der);
});
