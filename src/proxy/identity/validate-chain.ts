// Checks a chain the CA answered before the sidecar uses it: the leaf carries our key and one
// SPIFFE ID, is a current end-entity certificate, and chains link by link to a mesh root. A
// chain that fails any check is refused with the reason, and the caller keeps what it had.
// node:crypto's X509Certificate does the parsing and the signature checks (no X.509 library is
// loaded in the sidecar).
import { X509Certificate } from "node:crypto";
import { IdentityError } from "./errors.ts";
import { uriSansOf } from "./subject-alt-names.ts";
import type { WorkloadKey } from "./workload-key.ts";

export interface WorkloadCertificate {
  /** Leaf then intermediates, no root: what a TLS endpoint presents. */
  certChainPem: string;
  keyPem: string;
  /** The trust bundle: mesh root(s) that peers' chains must end in. */
  rootsPem: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex, as the CA logs it. */
  serial: string;
}

/** The mesh roots, parsed once. */
export interface TrustBundle {
  pem: string;
  roots: readonly X509Certificate[];
}

/** Clocks of the CA and the sidecar may differ this much (notBefore in our future). */
const CLOCK_SKEW_MS = 5 * 60_000;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function bad(reason: string, message: string): IdentityError {
  return new IdentityError("MIZZEN_E_IDENTITY_BAD_RESPONSE", reason, `the CA's answer was refused: ${message}`);
}

function pemOf(c: X509Certificate): string {
  const pem = c.toString();
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}

/** A distinguished name on one line ("O=Operator Inc, CN=Root"): node prints one RDN per line, and an empty name as undefined. */
function nameOf(dn: string | undefined): string {
  return (dn ?? "").split("\n").join(", ");
}

/** Parses a PEM trust bundle; throws MIZZEN_E_IDENTITY_CONFIG naming `where` when it holds no usable root. */
export function parseTrustBundle(pem: string, where: string): TrustBundle {
  const blocks = typeof pem === "string" ? (pem.match(PEM_CERT) ?? []) : [];
  if (blocks.length === 0) throw new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_root", `${where} holds no PEM certificate (pass the mesh root, root-cert.pem of the control plane's CA)`);
  const roots = blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_root", `${where}: certificate #${i + 1} is not valid X.509: ${(e as Error).message}`);
    }
  });
  return { pem: roots.map(pemOf).join(""), roots };
}

/** The URI SANs of a certificate. */
export function uriSans(cert: X509Certificate): string[] {
  return uriSansOf(cert.subjectAltName);
}

/** `parent` issued `child`: names (and key identifiers, key usage) line up and the signature checks. */
function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function holdsKey(leaf: X509Certificate, key: WorkloadKey): boolean {
  try {
    return leaf.checkPrivateKey(key.privateKey);
  } catch {
    return false; // a key of another type than the certificate's
  }
}

function parseChain(chainPem: readonly string[]): X509Certificate[] {
  if (!Array.isArray(chainPem) || chainPem.length === 0) throw bad("empty_chain", "the certificate chain is empty");
  const blocks = chainPem.flatMap((p) => (typeof p === "string" ? (p.match(PEM_CERT) ?? []) : []));
  if (blocks.length === 0) throw bad("bad_chain", "the chain holds no PEM certificate");
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw bad("bad_chain", `certificate #${i + 1} of the chain is not valid X.509: ${(e as Error).message}`);
    }
  });
}

/** Turns the CA's answer into a WorkloadCertificate, or throws MIZZEN_E_IDENTITY_BAD_RESPONSE. */
export async function validateIssuedChain(chainPem: readonly string[], key: WorkloadKey, trust: TrustBundle, now: Date): Promise<WorkloadCertificate> {
  const certs = parseChain(chainPem);
  const leaf = certs[0]!;
  if (!holdsKey(leaf, key)) throw bad("key_mismatch", "the leaf certificate does not carry this sidecar's public key (the CA signed another CSR)");
  if (leaf.ca) throw bad("leaf_is_ca", "the leaf certificate is a CA certificate, not a workload certificate");
  const spiffe = uriSans(leaf).filter((u) => u.startsWith("spiffe://"));
  if (spiffe.length !== 1) throw bad("no_spiffe_id", `the leaf must carry exactly one spiffe:// URI SAN, it carries ${spiffe.length ? spiffe.join(", ") : "none"}`);
  const notBefore = leaf.validFromDate;
  const notAfter = leaf.validToDate;
  if (notAfter.getTime() <= now.getTime()) throw bad("expired", `the leaf expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) throw bad("not_yet_valid", `the leaf is not valid before ${notBefore.toISOString()} (check the clocks of the CA and this host)`);

  for (let i = 0; i + 1 < certs.length; i++) {
    if (!signedBy(certs[i]!, certs[i + 1]!)) {
      throw bad("broken_chain", `certificate #${i + 1} (${nameOf(certs[i]!.subject) || "leaf"}) is not signed by certificate #${i + 2} (${nameOf(certs[i + 1]!.subject)})`);
    }
  }
  // The chain ends in a mesh root, or in a certificate a mesh root signed (root left out).
  const last = certs[certs.length - 1]!;
  const endsInRoot = trust.roots.some((r) => r.raw.equals(last.raw));
  if (!endsInRoot && !trust.roots.some((r) => signedBy(last, r))) {
    throw bad("untrusted_root", `the chain ends in "${nameOf(last.subject)}", issued by "${nameOf(last.issuer)}", which is not a mesh root this sidecar trusts (${trust.roots.map((r) => `"${nameOf(r.subject)}"`).join(", ")}); was the mesh root replaced?`);
  }
  const presented = endsInRoot && certs.length > 1 ? certs.slice(0, -1) : certs;
  return {
    certChainPem: presented.map(pemOf).join(""),
    keyPem: key.keyPem,
    rootsPem: trust.pem,
    spiffeId: spiffe[0]!,
    notBefore,
    notAfter,
    serial: leaf.serialNumber.toLowerCase(),
  };
}
