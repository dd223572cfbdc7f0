// The control plane's own TLS certificate for xDS and the CA on 15012, signed by the mesh CA
// so that a sidecar holding only the mesh root can verify it (istiod does the same with its
// "istiod.istio-system.svc" certificate). The key lives in memory; a new one is made at
// every start, so nothing but the CA key itself is kept on disk.
import { isIP } from "node:net";
import { generateCaKeyPair, privateKeyToPem } from "./keys.ts";
import { randomSerialHex, type SigningCa } from "./root.ts";
import * as x509 from "./x509.ts";

/** The DNS name sidecars verify on the control plane's certificate unless told otherwise. */
export const CONTROL_PLANE_SERVER_NAME = "istiod.istio-system.svc";

export interface ServingCertificate {
  /** Leaf first, then the CA chain (root last). */
  certChainPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface ServingCertificateOptions {
  /** DNS names and IP addresses the certificate names; CONTROL_PLANE_SERVER_NAME is always added. */
  names?: readonly string[];
  /** Default 1 year (cut to the CA's own expiry). */
  lifetimeDays?: number;
  now?: Date;
}

export async function issueServingCertificate(ca: SigningCa, opts: ServingCertificateOptions = {}): Promise<ServingCertificate> {
  const now = opts.now ?? new Date();
  const names = [...new Set([CONTROL_PLANE_SERVER_NAME, "mizzen-control", "localhost", ...(opts.names ?? [])])];
  const sans = names.map((n) => (isIP(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n }));
  const keys = await generateCaKeyPair("ecdsa-p256");
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000); // a little clock skew
  let notAfter = new Date(notBefore.getTime() + (opts.lifetimeDays ?? 365) * 86_400_000);
  if (notAfter > ca.cert.notAfter) notAfter = ca.cert.notAfter;
  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: "O=Mizzen, CN=mizzen-control",
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  // The root is not sent: peers must already hold it.
  const chain = [cert.toString("pem") + "\n", ...ca.chainPem.slice(0, -1)];
  return { certChainPem: chain.join(""), keyPem: await privateKeyToPem(keys.privateKey), notAfter };
}
