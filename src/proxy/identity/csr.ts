// A PKCS#10 certification request (RFC 2986) built with node:crypto and der.ts, for the keys a
// sidecar makes: ECDSA (signed ecdsa-with-SHA256) and RSA (sha256WithRSAEncryption).
//
// The subject is empty: the mesh CA names the certificate after the identity its bootstrap token
// maps to. A SPIFFE ID may be asked for as a URI SubjectAltName; like Istio's agent, that
// extension is marked critical, because with an empty subject the SAN is the only name
// (RFC 5280 4.2.1.6). Without one the attributes are an empty set, as Go and OpenSSL write it.
import { sign, type KeyObject } from "node:crypto";
import { bitString, boolean, ia5String, implicit, integer, nullValue, octetString, oid, sequence, setOf } from "./der.ts";

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
} as const;

export interface CsrInput {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** URI SANs to ask for, e.g. one "spiffe://td/ns/x/sa/y". Default none. */
  uriSans?: readonly string[];
}

/** AlgorithmIdentifier of the signature this key makes: ECDSA takes no parameters, RSA a NULL (RFC 5754, 4055). */
function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === "ec") return sequence(oid(OID.ecdsaWithSha256));
  if (key.asymmetricKeyType === "rsa") return sequence(oid(OID.sha256WithRsa), nullValue());
  throw new RangeError(`a CSR can be signed only with an EC or RSA key, not "${key.asymmetricKeyType}"`);
}

function subjectAltNameExtension(uris: readonly string[]): Buffer {
  // GeneralName uniformResourceIdentifier is [6] IMPLICIT IA5String.
  const names = sequence(...uris.map((u) => implicit(6, ia5String(u))));
  return sequence(oid(OID.subjectAltName), boolean(true), octetString(names));
}

/** attributes [0] IMPLICIT SET OF Attribute: the extension request, or nothing. */
function attributes(uriSans: readonly string[]): Buffer {
  if (uriSans.length === 0) return implicit(0, setOf());
  const extensionRequest = sequence(oid(OID.extensionRequest), setOf(sequence(subjectAltNameExtension(uriSans))));
  return implicit(0, setOf(extensionRequest));
}

/** The request, DER-encoded. Throws a RangeError for a key type other than EC/RSA or a non-ASCII URI. */
export function buildCsrDer(input: CsrInput): Buffer {
  const spki = input.publicKey.export({ type: "spki", format: "der" });
  const algorithm = signatureAlgorithm(input.privateKey);
  const info = sequence(
    integer(0), // version v1
    sequence(), // subject: the empty Name
    spki,
    attributes(input.uriSans ?? []),
  );
  // ECDSA: node's default is already the DER Ecdsa-Sig-Value; RSA: PKCS#1 v1.5 padding.
  const signature = sign("sha256", info, { key: input.privateKey, dsaEncoding: "der" });
  return sequence(info, algorithm, bitString(signature));
}

export function csrPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}
