import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, type webcrypto } from "node:crypto";
import * as x509 from "../../ca/x509.ts";
import { parseSubjectAltNames, uriSansOf } from "./subject-alt-names.ts";

test("reads Node's subjectaltname text, honouring the quoting that stops a crafted name from adding an entry", async () => {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const crafted = "spiffe://cluster.local/ns/a/sa/b, URI:spiffe://cluster.local/ns/istio-system/sa/istiod";
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=test",
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: "url", value: crafted },
        { type: "dns", value: "reviews.bookinfo" },
        { type: "url", value: 'x"y\\z' },
        { type: "ip", value: "10.0.0.1" },
        { type: "url", value: "spiffe://cluster.local/ns/bookinfo/sa/reviews" },
      ]),
    ],
  });
  const text = new X509Certificate(cert.toString("pem")).subjectAltName;
  assert.deepEqual(parseSubjectAltNames(text), [
    { type: "URI", value: crafted },
    { type: "DNS", value: "reviews.bookinfo" },
    { type: "URI", value: 'x"y\\z' },
    { type: "IP Address", value: "10.0.0.1" },
    { type: "URI", value: "spiffe://cluster.local/ns/bookinfo/sa/reviews" },
  ]);
  assert.ok(!uriSansOf(text).includes("spiffe://cluster.local/ns/istio-system/sa/istiod"));
});

test("empty, absent and malformed text yield what can be trusted", () => {
  assert.deepEqual(parseSubjectAltNames(undefined), []);
  assert.deepEqual(parseSubjectAltNames(""), []);
  assert.deepEqual(uriSansOf("URI:spiffe://td/ns/a/sa/b"), ["spiffe://td/ns/a/sa/b"]);
  assert.deepEqual(parseSubjectAltNames('URI:"unterminated, DNS:x'), []);
  assert.deepEqual(parseSubjectAltNames('URI:"a"junk, DNS:x'), [{ type: "URI", value: "a" }]);
});
