// Where the CA's signing certificate and key come from.
//
// 1. Self-signed (the default, like istiod without plugged certs): <dir>/root-cert.pem (0644) and
//    <dir>/root-key.pem (0600). Created once, then REUSED on every start, because every workload
//    certificate and every sidecar's trust bundle depends on it. An incomplete, corrupt,
//    mismatched, expired or world-readable pair is an error that says how to fix it; it is
//    never replaced silently (that would cut every running workload off the mesh).
// 2. Plugged (Istio's "Plug in CA Certificates" layout, the `cacerts` secret as files):
//    ca-cert.pem (the signing certificate, usually an intermediate), ca-key.pem (its key),
//    root-cert.pem (the mesh's root of trust) and cert-chain.pem (the signing certificate's
//    chain; Istio's tooling writes ca-cert then root, older docs only ca-cert; it may be empty
//    or absent when ca-cert is the root). The chain is checked link by link before use.
import { X509Certificate as NodeCert } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { CaError } from "./errors.ts";
import { generateCaKeyPair, privateKeyToPem, readPrivateKeyObject, toSigningKey, type CaKeyType, type CryptoKey, type SigningAlgorithm } from "./keys.ts";
import * as x509 from "./x509.ts";

export interface SigningCa {
  /** The certificate that signs workload certificates (the root itself, or an intermediate). */
  cert: x509.X509Certificate;
  key: CryptoKey;
  signingAlgorithm: SigningAlgorithm;
  /** PEM, signing certificate first, root last ([root] when the root signs). */
  chainPem: readonly string[];
  /** The mesh's root of trust, PEM: what sidecars put in their validation context. */
  rootPem: string;
  source: "self-signed" | "plugged";
  dir: string;
}

export const SELF_SIGNED_FILES = { cert: "root-cert.pem", key: "root-key.pem" } as const;
export const PLUGGED_FILES = { cert: "ca-cert.pem", key: "ca-key.pem", root: "root-cert.pem", chain: "cert-chain.pem" } as const;

export interface SelfSignedRootOptions {
  /** Directory for the pair, e.g. <dataDir>/ca. Created (0700) if missing. */
  dir: string;
  /** Goes into the root's subject (O=<trustDomain>), as Istio's self-signed root does. */
  trustDomain?: string;
  keyType?: CaKeyType;
  /** Lifetime of a newly created root. Default 10 years. */
  validityDays?: number;
  logger?: Logger;
  now?: Date;
}

const DAY_MS = 86_400_000;

function storeError(message: string): CaError {
  return new CaError("MIZZEN_E_CA_STORE", "bad_ca_store", message);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw storeError(`${path}: cannot be read: ${(e as Error).message}`);
  }
}

/** Every PEM certificate block in `text`, in order. */
export function splitPemCertificates(text: string): string[] {
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => `${b}\n`);
}

function parseOneCert(text: string, where: string): x509.X509Certificate {
  const blocks = splitPemCertificates(text);
  if (blocks.length !== 1) throw storeError(`${where}: expected exactly one PEM certificate, found ${blocks.length}`);
  try {
    return new x509.X509Certificate(blocks[0]!);
  } catch (e) {
    throw storeError(`${where}: not a valid X.509 certificate: ${(e as Error).message}`);
  }
}

/** The checks every CA certificate must pass: CA:true, keyCertSign, inside its validity. */
function checkCaCert(cert: x509.X509Certificate, where: string, now: Date): void {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw storeError(`${where}: not a CA certificate (basicConstraints CA:TRUE is missing)`);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw storeError(`${where}: key usage lacks keyCertSign, so it cannot sign certificates`);
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw storeError(`${where}: expired on ${cert.notAfter.toISOString()} (replace it; a self-signed root is recreated only after you remove both files)`);
  }
  if (cert.notBefore.getTime() > now.getTime()) throw storeError(`${where}: not valid before ${cert.notBefore.toISOString()} (check the clock)`);
}

async function loadSigner(certPem: string, keyPem: string, certPath: string, keyPath: string, now: Date): Promise<{ cert: x509.X509Certificate; key: CryptoKey; signingAlgorithm: SigningAlgorithm }> {
  const cert = parseOneCert(certPem, certPath);
  checkCaCert(cert, certPath, now);
  const keyObj = readPrivateKeyObject(keyPem, keyPath);
  if (!new NodeCert(Buffer.from(cert.rawData)).checkPrivateKey(keyObj)) {
    throw storeError(`${keyPath} does not belong to ${certPath} (the key and the certificate are from different pairs; restore the matching files)`);
  }
  const signing = await toSigningKey(keyObj, keyPath);
  return { cert, key: signing.key, signingAlgorithm: signing.algorithm };
}

function checkKeyFileMode(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw storeError(`${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${path}`);
}

function writeNew(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode, flag: "w" });
  chmodSync(tmp, mode); // the umask may have narrowed or (for 0644) the file pre-existed
  renameSync(tmp, path);
}

/** Loads <dir>/root-cert.pem + root-key.pem, creating them on first use. */
export async function loadOrCreateSelfSignedRoot(opts: SelfSignedRootOptions): Promise<SigningCa> {
  const log = opts.logger ?? pino({ level: "silent" });
  const now = opts.now ?? new Date();
  const certPath = join(opts.dir, SELF_SIGNED_FILES.cert);
  const keyPath = join(opts.dir, SELF_SIGNED_FILES.key);
  const haveCert = existsSync(certPath);
  const haveKey = existsSync(keyPath);
  if (haveCert !== haveKey) {
    const [have, missing] = haveCert ? [certPath, keyPath] : [keyPath, certPath];
    throw storeError(`${have} exists but ${missing} does not; restore the missing file, or remove ${have} to create a new root (every workload must then get new certificates)`);
  }
  if (haveCert) {
    checkKeyFileMode(keyPath);
    const certPem = readText(certPath);
    const signer = await loadSigner(certPem, readText(keyPath), certPath, keyPath, now);
    if (!(await signer.cert.isSelfSigned())) throw storeError(`${certPath} is not self-signed; to use an operator's CA put it in the cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)`);
    log.info({ dir: opts.dir, subject: signer.cert.subject, notAfter: signer.cert.notAfter.toISOString() }, "CA root loaded");
    const rootPem = signer.cert.toString("pem") + "\n";
    return { ...signer, chainPem: [rootPem], rootPem, source: "self-signed", dir: opts.dir };
  }

  const validityDays = opts.validityDays ?? 3650;
  if (!Number.isInteger(validityDays) || validityDays < 1) throw new CaError("MIZZEN_E_CA_LIFETIME", "bad_lifetime", `root validityDays must be a positive whole number, got ${validityDays}`);
  const keyType = opts.keyType ?? "ecdsa-p256";
  const keys = await generateCaKeyPair(keyType);
  const org = opts.trustDomain ?? "cluster.local";
  const signingAlgorithm: SigningAlgorithm = keyType === "ecdsa-p256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ O: [org] }, { CN: ["Mizzen root CA"] }],
    keys,
    signingAlgorithm,
    serialNumber: randomSerialHex(),
    notBefore: now,
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const rootPem = cert.toString("pem") + "\n";
  writeNew(keyPath, await privateKeyToPem(keys.privateKey), 0o600);
  writeNew(certPath, rootPem, 0o644);
  log.info({ dir: opts.dir, keyType, notAfter: cert.notAfter.toISOString() }, "CA root created");
  // Re-read what was written, so a fresh start and a restart go through the same checks.
  return loadOrCreateSelfSignedRoot({ ...opts, now });
}

/** 128 random bits, positive as DER INTEGER requires (RFC 5280 allows up to 20 octets). */
export function randomSerialHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString("hex");
}

export interface PluggedCaOptions {
  dir: string;
  logger?: Logger;
  now?: Date;
}

/** Loads Istio's cacerts layout from `dir` and checks that ca-cert chains to root-cert. */
export async function loadPluggedCa(opts: PluggedCaOptions): Promise<SigningCa> {
  const log = opts.logger ?? pino({ level: "silent" });
  const now = opts.now ?? new Date();
  const p = (name: string) => join(opts.dir, name);
  for (const f of [PLUGGED_FILES.cert, PLUGGED_FILES.key, PLUGGED_FILES.root]) {
    if (!existsSync(p(f))) throw storeError(`${p(f)} is missing; the cacerts layout needs ca-cert.pem, ca-key.pem, root-cert.pem (and cert-chain.pem unless ca-cert is the root)`);
  }
  checkKeyFileMode(p(PLUGGED_FILES.key));
  const signer = await loadSigner(readText(p(PLUGGED_FILES.cert)), readText(p(PLUGGED_FILES.key)), p(PLUGGED_FILES.cert), p(PLUGGED_FILES.key), now);
  const root = parseOneCert(readText(p(PLUGGED_FILES.root)), p(PLUGGED_FILES.root));
  checkCaCert(root, p(PLUGGED_FILES.root), now);
  if (!(await root.isSelfSigned())) throw storeError(`${p(PLUGGED_FILES.root)} is not self-signed; it must be the mesh's root certificate`);

  // Intermediates between ca-cert and the root, whichever way cert-chain.pem was written.
  const chainText = existsSync(p(PLUGGED_FILES.chain)) ? readText(p(PLUGGED_FILES.chain)) : "";
  const listed = splitPemCertificates(chainText).map((b, i) => {
    try {
      return new x509.X509Certificate(b);
    } catch (e) {
      throw storeError(`${p(PLUGGED_FILES.chain)}: certificate #${i + 1} is not valid: ${(e as Error).message}`);
    }
  });
  const same = (a: x509.X509Certificate, b: x509.X509Certificate) => Buffer.from(a.rawData).equals(Buffer.from(b.rawData));
  const middle = listed.filter((c) => !same(c, signer.cert) && !same(c, root));
  const path = same(signer.cert, root) ? [root] : [signer.cert, ...middle, root];
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i]!;
    const parent = path[i + 1]!;
    const where = i === 0 ? p(PLUGGED_FILES.cert) : `${p(PLUGGED_FILES.chain)} (${child.subject})`;
    checkCaCert(child, where, now);
    const ok = child.issuer === parent.subject && (await child.verify({ publicKey: parent.publicKey, signatureOnly: true }));
    if (!ok) {
      throw storeError(`${where} is not signed by ${parent.subject === root.subject ? p(PLUGGED_FILES.root) : parent.subject}; cert-chain.pem must hold the certificates from ca-cert.pem up to root-cert.pem`);
    }
  }
  const chainPem = path.map((c) => c.toString("pem") + "\n");
  log.info({ dir: opts.dir, signer: signer.cert.subject, root: root.subject, chainLength: path.length }, "CA loaded from cacerts");
  return { ...signer, chainPem, rootPem: chainPem[chainPem.length - 1]!, source: "plugged", dir: opts.dir };
}

/** Istio's rule: plugged certificates win when ca-cert.pem is present; otherwise the self-signed root. */
export async function loadCa(opts: SelfSignedRootOptions & { pluggedDir?: string }): Promise<SigningCa> {
  if (opts.pluggedDir && existsSync(join(opts.pluggedDir, PLUGGED_FILES.cert))) return loadPluggedCa({ dir: opts.pluggedDir, logger: opts.logger, now: opts.now });
  return loadOrCreateSelfSignedRoot(opts);
}
