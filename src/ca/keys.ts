// Private keys of the CA: generate, write as PKCS#8 PEM, and read back any PEM an operator may
// hand us (PKCS#8, PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY") as a WebCrypto signing key,
// together with the signature algorithm that key implies.
import { createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { CaError } from "./errors.ts";

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;

export type CaKeyType = "ecdsa-p256" | "rsa-2048";

export interface SigningKey {
  key: CryptoKey;
  /** What @peculiar/x509 needs as signingAlgorithm for this key. */
  algorithm: SigningAlgorithm;
  /** Short description for logs and errors, e.g. "ECDSA P-256". */
  description: string;
}

const EC_CURVES: Record<string, { webName: string; hash: string }> = {
  prime256v1: { webName: "P-256", hash: "SHA-256" },
  secp384r1: { webName: "P-384", hash: "SHA-384" },
};

export async function generateCaKeyPair(type: CaKeyType): Promise<CryptoKeyPair> {
  const alg =
    type === "ecdsa-p256"
      ? { name: "ECDSA", namedCurve: "P-256" }
      : { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  return (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function storeError(message: string): CaError {
  return new CaError("MIZZEN_E_CA_STORE", "bad_ca_key", message);
}

/** Reads a PEM private key (file named by `where`, for messages) as a signing key. */
export function readPrivateKeyObject(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (e) {
    const why = (e as Error).message;
    const hint = /passphrase|encrypted/i.test(why + pem) ? " (encrypted keys are not supported: decrypt it with `openssl pkey -in KEY -out KEY.plain`)" : "";
    throw storeError(`${where}: not a readable PEM private key: ${why}${hint}`);
  }
}

export async function toSigningKey(obj: KeyObject, where: string): Promise<SigningKey> {
  if (obj.asymmetricKeyType === "ec") {
    const curve = obj.asymmetricKeyDetails?.namedCurve ?? "";
    const c = EC_CURVES[curve];
    if (!c) throw storeError(`${where}: EC curve "${curve}" is not supported (use P-256 or P-384)`);
    const key = await obj.toCryptoKey({ name: "ECDSA", namedCurve: c.webName }, false, ["sign"]);
    return { key, algorithm: { name: "ECDSA", hash: c.hash }, description: `ECDSA ${c.webName}` };
  }
  if (obj.asymmetricKeyType === "rsa") {
    const bits = obj.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw storeError(`${where}: RSA key of ${bits} bits is too weak (use at least 2048)`);
    const key = await obj.toCryptoKey({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
    return { key, algorithm: { name: "RSASSA-PKCS1-v1_5" }, description: `RSA ${bits}` };
  }
  throw storeError(`${where}: key type "${obj.asymmetricKeyType}" is not supported (use ECDSA P-256/P-384 or RSA >= 2048)`);
}

/** Public key algorithms a workload's CSR may use: what Envoy and Node both accept for mTLS. */
export function describeAcceptablePublicKey(spkiDer: ArrayBuffer): { ok: true; description: string } | { ok: false; why: string } {
  let pub: KeyObject;
  try {
    pub = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
  } catch (e) {
    return { ok: false, why: `its public key cannot be read: ${(e as Error).message}` };
  }
  if (pub.asymmetricKeyType === "ec") {
    const curve = pub.asymmetricKeyDetails?.namedCurve ?? "";
    const c = EC_CURVES[curve];
    return c ? { ok: true, description: `ECDSA ${c.webName}` } : { ok: false, why: `EC curve "${curve}" is not accepted (use P-256 or P-384)` };
  }
  if (pub.asymmetricKeyType === "rsa") {
    const bits = pub.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= 2048 ? { ok: true, description: `RSA ${bits}` } : { ok: false, why: `RSA key of ${bits} bits is too weak (use at least 2048)` };
  }
  return { ok: false, why: `key type "${pub.asymmetricKeyType}" is not accepted (use ECDSA P-256/P-384 or RSA >= 2048)` };
}
