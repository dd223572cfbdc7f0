// A workload's private key and its CSR, made in memory with node:crypto only (no X.509 library
// is loaded in the sidecar: csr.ts writes the request). The key stays a KeyObject; it is also
// exported once as PKCS#8 PEM because node:tls takes keys as PEM, and that string lives only in
// this process's memory (nothing here, or anywhere in this folder, writes a file).
//
// By default the CSR carries no name: the CA puts in the certificate the identity the bootstrap
// token maps to, and refuses any other, so asking for a name adds nothing. A caller that knows
// its SPIFFE ID may ask for it (spiffeId), as Istio's agent does.
import { generateKeyPair, type KeyObject } from "node:crypto";
import { buildCsrDer, csrPem } from "./csr.ts";
import { IdentityError } from "./errors.ts";

export type WorkloadKeyType = "ecdsa-p256" | "rsa-2048";

export interface WorkloadKey {
  type: WorkloadKeyType;
  privateKey: KeyObject;
  /** PKCS#8 PEM of privateKey, for node:tls. */
  keyPem: string;
  /** SubjectPublicKeyInfo DER. */
  spkiDer: Buffer;
  csrPem: string;
}

export interface WorkloadKeyOptions {
  /** A spiffe:// URI to ask for as the CSR's URI SAN. Default: none. */
  spiffeId?: string;
}

interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** Off the main thread (an RSA 2048 key takes tens of milliseconds). */
function newKeyPair(type: WorkloadKeyType): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => (err ? reject(err) : resolve({ publicKey, privateKey }));
    if (type === "rsa-2048") generateKeyPair("rsa", { modulusLength: 2048, publicExponent: 0x10001 }, done);
    else generateKeyPair("ec", { namedCurve: "P-256" }, done);
  });
}

function checkSpiffeId(id: string | undefined): string[] {
  if (id === undefined) return [];
  if (typeof id !== "string" || !/^spiffe:\/\/[\x21-\x7e]+$/.test(id)) {
    throw new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_option", `spiffeId "${String(id)}" is not a spiffe:// URI of printable ASCII (e.g. spiffe://cluster.local/ns/default/sa/default)`);
  }
  return [id];
}

export async function generateWorkloadKey(type: WorkloadKeyType, opts: WorkloadKeyOptions = {}): Promise<WorkloadKey> {
  const uriSans = checkSpiffeId(opts.spiffeId);
  const { publicKey, privateKey } = await newKeyPair(type);
  return {
    type,
    privateKey,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    spkiDer: publicKey.export({ type: "spki", format: "der" }),
    csrPem: csrPem(buildCsrDer({ privateKey, publicKey, uriSans })),
  };
}
