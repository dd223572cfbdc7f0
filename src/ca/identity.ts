// SPIFFE identities in Istio's shape: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
// Validation follows the SPIFFE ID spec (lower-case trust domain of [a-z0-9._-], path segments
// of [A-Za-z0-9._-], no "." or ".." segments, at most 2048 bytes) narrowed by Kubernetes' own
// rules, since namespaces and service accounts are Kubernetes names: a namespace is a DNS-1123
// label, a service account a DNS-1123 subdomain.
import { CaError } from "./errors.ts";

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SCHEME = "spiffe://";
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function refuse(message: string): CaError {
  return new CaError("MIZZEN_E_CA_IDENTITY", "bad_identity", message);
}

export function validateTrustDomain(td: string): void {
  if (!td) throw refuse("trust domain is empty (use e.g. cluster.local)");
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) throw refuse(`trust domain "${td.slice(0, 40)}..." is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  if (!TRUST_DOMAIN.test(td)) throw refuse(`trust domain "${td}" may contain only lower-case letters, digits, ".", "-" and "_" (e.g. cluster.local)`);
}

export function validateNamespace(ns: string): void {
  if (ns.length > 63 || !DNS1123_LABEL.test(ns)) {
    throw refuse(`namespace "${ns}" is not a Kubernetes namespace name (lower-case letters, digits and "-", at most 63, starting and ending with a letter or digit)`);
  }
}

export function validateServiceAccount(sa: string): void {
  if (sa.length > 253 || !DNS1123_SUBDOMAIN.test(sa)) {
    throw refuse(`service account "${sa}" is not a Kubernetes name (lower-case letters, digits, "-" and ".", at most 253, starting and ending with a letter or digit)`);
  }
}

/** Checks every part; returns a frozen copy. */
export function workloadIdentity(trustDomain: string, namespace: string, serviceAccount: string): WorkloadIdentity {
  validateTrustDomain(trustDomain);
  validateNamespace(namespace);
  validateServiceAccount(serviceAccount);
  return Object.freeze({ trustDomain, namespace, serviceAccount });
}

export function formatSpiffeId(id: WorkloadIdentity): string {
  const checked = workloadIdentity(id.trustDomain, id.namespace, id.serviceAccount);
  return `${SCHEME}${checked.trustDomain}/ns/${checked.namespace}/sa/${checked.serviceAccount}`;
}

/** Parses spiffe://td/ns/NS/sa/SA; anything else (other paths, query, fragment, port, user) is refused. */
export function parseSpiffeId(text: string): WorkloadIdentity {
  if (typeof text !== "string" || !text) throw refuse("SPIFFE ID is empty (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)");
  if (text.length > MAX_ID_LENGTH) throw refuse(`SPIFFE ID is longer than ${MAX_ID_LENGTH} characters`);
  if (!text.startsWith(SCHEME)) {
    throw refuse(`"${text}" is not a SPIFFE ID: it must start with ${SCHEME} (lower case), e.g. spiffe://cluster.local/ns/default/sa/default`);
  }
  if (/[?#%]/.test(text)) throw refuse(`SPIFFE ID "${text}" must not contain a query, a fragment or percent-encoding`);
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  if (slash < 0) throw refuse(`SPIFFE ID "${text}" has no path; expected .../ns/<namespace>/sa/<service-account>`);
  const trustDomain = rest.slice(0, slash);
  const segments = rest.slice(slash + 1).split("/");
  if (segments.length !== 4 || segments[0] !== "ns" || segments[2] !== "sa") {
    throw refuse(`SPIFFE ID "${text}" has path "/${segments.join("/")}"; Mizzen workload identities are /ns/<namespace>/sa/<service-account>`);
  }
  return workloadIdentity(trustDomain, segments[1]!, segments[3]!);
}

export function sameIdentity(a: WorkloadIdentity, b: WorkloadIdentity): boolean {
  return a.trustDomain === b.trustDomain && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;
}
