// A workload's private key and its CSR, made in memory. The key is exported once, as PKCS#8
// PEM, because node:tls takes keys as PEM; that string lives only in this process's memory
// (nothing here, or anywhere in this folder, writes a file).
//
// The CSR carries no name: the CA puts in the certificate the identity the bootstrap token maps
// to, and ignores (or refuses) anything else, so asking for a name would add nothing.
import type { webcrypto } from "node:crypto";
import * as x509 from "../../ca/x509.ts";

export type WorkloadKeyType = "ecdsa-p256" | "rsa-2048";

export interface WorkloadKey {
  type: WorkloadKeyType;
  keyPem: string;
  /** SubjectPublicKeyInfo DER, to check that an issued leaf carries this key. */
  spkiDer: Buffer;
  csrPem: string;
}

function algorithmFor(type: WorkloadKeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return type === "rsa-2048"
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256" };
}

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export async function generateWorkloadKey(type: WorkloadKeyType): Promise<WorkloadKey> {
  const alg = algorithmFor(type);
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const signingAlgorithm = type === "rsa-2048" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", hash: "SHA-256" };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm });
  return {
    type,
    keyPem: toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    spkiDer: Buffer.from(await crypto.subtle.exportKey("spki", keys.publicKey)),
    csrPem: csr.toString("pem"),
  };
}
