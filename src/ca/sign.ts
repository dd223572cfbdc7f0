// Signing a workload's PKCS#10 CSR for the identity it is entitled to.
//
// The CA decides what goes into the certificate; the CSR contributes only its public key. The
// CSR must prove possession of that key (its self-signature is checked) and may ask for no name
// or for exactly the entitled SPIFFE ID; a CSR asking for any other name (another SPIFFE ID, a
// DNS name, an IP) is refused, naming what it asked for and what the caller is entitled to.
// The leaf is what Istio issues: empty subject, the SPIFFE ID as the only (critical) URI SAN,
// digitalSignature + keyEncipherment, serverAuth + clientAuth, CA:FALSE; its chain is returned
// leaf first, root last, as IstioCertificateResponse.cert_chain is.
import { CaError } from "./errors.ts";
import { formatSpiffeId, type WorkloadIdentity } from "./identity.ts";
import { describeAcceptablePublicKey } from "./keys.ts";
import { randomSerialHex, type SigningCa } from "./root.ts";
import * as x509 from "./x509.ts";

export interface LifetimePolicy {
  /** Used when the request names no lifetime (0 or absent). Default 24 h. */
  defaultSeconds: number;
  /** Longest lifetime a request may ask for. Default 90 days (Istio's max workload TTL). */
  maxSeconds: number;
}

export const DEFAULT_LIFETIME_SECONDS = 24 * 3600;
export const DEFAULT_MAX_LIFETIME_SECONDS = 90 * 24 * 3600;
/** A PEM CSR is ~1 KiB; anything far larger is not a CSR and is not parsed. */
export const MAX_CSR_BYTES = 64 * 1024;

function lifetimeError(message: string): CaError {
  return new CaError("MIZZEN_E_CA_LIFETIME", "bad_lifetime", message);
}

function checkSeconds(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw lifetimeError(`${name} must be a positive whole number of seconds, got ${String(v)}`);
  }
  return v;
}

/** Validates a configured policy (an operator's mistake is reported at start-up, not per request). */
export function lifetimePolicy(opts: Partial<LifetimePolicy> = {}): LifetimePolicy {
  const defaultSeconds = checkSeconds("default certificate lifetime", opts.defaultSeconds ?? DEFAULT_LIFETIME_SECONDS);
  const maxSeconds = checkSeconds("maximum certificate lifetime", opts.maxSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS);
  if (defaultSeconds > maxSeconds) throw lifetimeError(`default certificate lifetime ${defaultSeconds}s exceeds the maximum ${maxSeconds}s`);
  return Object.freeze({ defaultSeconds, maxSeconds });
}

/** The lifetime a request gets: its own if it names one (within the maximum), else the default. */
export function resolveLifetime(requested: number | undefined, policy: LifetimePolicy): number {
  if (requested === undefined || requested === 0) return policy.defaultSeconds;
  const s = checkSeconds("requested validity_duration", requested);
  if (s > policy.maxSeconds) throw lifetimeError(`requested validity_duration ${s}s exceeds the maximum ${policy.maxSeconds}s (ask for less, or raise the CA's maximum lifetime)`);
  return s;
}

export interface SignRequest {
  csrPem: string;
  identity: WorkloadIdentity;
  /** Seconds; 0 or absent means the policy's default. */
  lifetimeSeconds?: number;
  policy?: LifetimePolicy;
  now?: Date;
}

export interface IssuedCertificate {
  certPem: string;
  /** Leaf first, then intermediates, root last. */
  chainPem: string[];
  spiffeId: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** True when notAfter was cut to the signing certificate's own expiry. */
  truncatedToCa: boolean;
}

function csrError(message: string): CaError {
  return new CaError("MIZZEN_E_CA_CSR", "bad_csr", message);
}

/** Parses and checks a PEM CSR (structure, self-signature, key strength); exported for tests and tools. */
export async function readCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  if (typeof csrPem !== "string" || csrPem.trim() === "") throw csrError("the CSR is empty (send a PEM \"CERTIFICATE REQUEST\")");
  if (csrPem.length > MAX_CSR_BYTES) throw csrError(`the CSR is ${csrPem.length} bytes, more than the ${MAX_CSR_BYTES} a PKCS#10 request needs`);
  const blocks = csrPem.match(/-----BEGIN (NEW )?CERTIFICATE REQUEST-----[\s\S]*?-----END (NEW )?CERTIFICATE REQUEST-----/g) ?? [];
  if (blocks.length !== 1) throw csrError(`expected exactly one PEM "CERTIFICATE REQUEST" block, found ${blocks.length}`);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(blocks[0]!.replace(/NEW CERTIFICATE REQUEST/g, "CERTIFICATE REQUEST"));
  } catch (e) {
    throw csrError(`the CSR is not a valid PKCS#10 request: ${(e as Error).message}`);
  }
  const key = describeAcceptablePublicKey(csr.publicKey.rawData);
  if (!key.ok) throw csrError(`the CSR's key is refused: ${key.why}`);
  let signed = false;
  try {
    signed = await csr.verify();
  } catch (e) {
    throw new CaError("MIZZEN_E_CA_CSR", "bad_csr_signature", `the CSR's signature cannot be checked: ${(e as Error).message}`);
  }
  if (!signed) throw new CaError("MIZZEN_E_CA_CSR", "bad_csr_signature", "the CSR's signature does not match its public key (the request was altered, or signed with another key)");
  return csr;
}

/** Every name the CSR asks for, as "type:value" (URI SANs as the bare URI). */
export function requestedNames(csr: x509.Pkcs10CertificateRequest): string[] {
  const names: string[] = [];
  for (const ext of csr.extensions) {
    if (ext.type !== x509.SubjectAlternativeNameExtension.NAME && ext.type !== "2.5.29.17") continue;
    const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const n of san.names.toJSON()) names.push(n.type === "url" ? n.value : `${n.type}:${n.value}`);
  }
  return names;
}

export async function signCsr(ca: SigningCa, req: SignRequest): Promise<IssuedCertificate> {
  const spiffeId = formatSpiffeId(req.identity);
  const csr = await readCsr(req.csrPem);
  const wrong = requestedNames(csr).filter((n) => n !== spiffeId);
  if (wrong.length > 0) {
    throw new CaError(
      "MIZZEN_E_CA_SAN_MISMATCH",
      "identity_mismatch",
      `the CSR asks for ${wrong.map((n) => `"${n}"`).join(", ")} but the caller is entitled only to "${spiffeId}" (put that URI SAN, or none, in the CSR)`,
    );
  }
  const lifetime = resolveLifetime(req.lifetimeSeconds, req.policy ?? lifetimePolicy());
  const now = req.now ?? new Date();
  // Whole seconds: X.509 times have no fractions, and the issued lifetime is then exact.
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  let notAfter = new Date(notBefore.getTime() + lifetime * 1000);
  const truncatedToCa = notAfter.getTime() > ca.cert.notAfter.getTime();
  if (truncatedToCa) notAfter = ca.cert.notAfter;
  if (notAfter.getTime() <= notBefore.getTime()) throw new CaError("MIZZEN_E_CA_STORE", "ca_expired", `the signing certificate expired on ${ca.cert.notAfter.toISOString()}; replace it`);

  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const serialNumber = randomSerialHex();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: "",
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      // Critical because the subject is empty (RFC 5280 4.2.1.6).
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }], true),
      caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  const certPem = leaf.toString("pem") + "\n";
  return { certPem, chainPem: [certPem, ...ca.chainPem], spiffeId, serialNumber, notBefore, notAfter, truncatedToCa };
}
