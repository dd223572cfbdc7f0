// Admin /certs: the workload certificate and the trust bundle this proxy holds, in the shape of
// Envoy's /certs (what `istioctl proxy-config secret` reads). Never the private key.
import { X509Certificate } from "node:crypto";
import type { WorkloadCertificate } from "../tls/contexts.ts";

export interface CertDetail {
  path: string;
  serial_number: string;
  subject_alt_names: { uri?: string; dns?: string }[];
  days_until_expiration: number;
  valid_from: string;
  expiration_time: string;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function detail(path: string, pem: string, now: number): CertDetail {
  const c = new X509Certificate(pem);
  const sans = (c.subjectAltName ?? "").split(", ").filter(Boolean).map((s) => (s.startsWith("URI:") ? { uri: s.slice(4) } : { dns: s.replace(/^[^:]*:/, "") }));
  const notAfter = new Date(c.validTo);
  return {
    path,
    serial_number: c.serialNumber.toLowerCase(),
    subject_alt_names: sans,
    days_until_expiration: Math.floor((notAfter.getTime() - now) / 86_400_000),
    valid_from: new Date(c.validFrom).toISOString(),
    expiration_time: notAfter.toISOString(),
  };
}

export function certsView(cert: WorkloadCertificate | undefined, now = Date.now()): { certificates: { cert_chain: CertDetail[]; ca_cert: CertDetail[] }[] } {
  if (!cert) return { certificates: [] };
  return {
    certificates: [{
      cert_chain: (cert.certChainPem.match(PEM) ?? []).map((p, i) => detail(i === 0 ? "default" : `default#${i}`, p, now)),
      ca_cert: (cert.rootsPem.match(PEM) ?? []).map((p) => detail("ROOTCA", p, now)),
    }],
  };
}
