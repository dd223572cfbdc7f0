// RequestAuthentication -> the jwt_authn HTTP filter of one workload's inbound HTTP connection
// manager, as istiod builds it for a sidecar:
//  - which policies apply: those in the workload's namespace and those in the root namespace,
//    whose selector matches the workload's labels (no selector: all workloads); a policy with
//    targetRef(s) binds to a gateway or waypoint and is ignored here;
//  - every jwtRule of every applying policy becomes one provider, sorted by issuer (then
//    namespace, name and position, so the output is deterministic) and named "origins-<i>" as
//    istiod names them, so `proxy-config` output reads the same;
//  - keys are inline (local_jwks): the rule's own `jwks`, else the control plane's fetch of
//    jwksUri (or of the issuer's OpenID discovery document when jwksUri is empty). While the
//    keys are unknown or their fetch failed, the provider gets a JWKS whose key nobody holds:
//    every token from that issuer fails (401), tokenless requests still pass, as in Istio;
//  - the requirement is Istio's: a token, if present, must verify with its provider; no token
//    passes here (an AuthorizationPolicy with requestPrincipals is what demands one). With one
//    provider: requires_any [provider, allow_missing]. With several: requires_any [each
//    provider, requires_all [requires_any [provider_i, allow_missing] ...]]: the inner AND makes
//    every token present valid for the provider reading its location; the plain providers pass
//    a request whose token several providers read from the same place (the AND would fail
//    there, since the other providers see a token of a foreign issuer);
//  - token locations: fromHeaders / fromParams / fromCookies as given; none given leaves them
//    out and Envoy's defaults apply (Authorization: Bearer, then ?access_token=).
// Payload metadata goes under "payload" with "scope" and "permission" (plus the rule's
// spaceDelimitedClaims) split into lists, as istiod sets it.
import { appliesToWorkload, compareText } from "./selector-keys.ts";
import { createHash } from "node:crypto";
import type { ConfigObject } from "../api/types.ts";
import type { HttpConnectionManager } from "../xds/envoy-types.ts";
import { arr, bool, isObj, obj, str, strs } from "../registry/read-spec.ts";

export type JwtHttpFilter = HttpConnectionManager["http_filters"][number];

export const JWT_AUTHN_FILTER_NAME = "envoy.filters.http.jwt_authn";
export const JWT_AUTHN_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
/** istiod's payload_in_metadata key. */
export const JWT_PAYLOAD_METADATA_KEY = "payload";
const DEFAULT_SPACE_DELIMITED = ["permission", "scope"];
const DISCOVERY_SUFFIX = "/.well-known/openid-configuration";

export type JwksLookup = (uri: string) => { jwks: string } | { error: string } | undefined;

export interface JwtWorkload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export interface JwtOptions {
  /** Istio's root namespace (meshConfig.rootNamespace). */
  rootNamespace: string;
  /** Keys fetched by the control plane (src/control/jwks-cache.ts), by jwksUri or discovery URL. */
  jwks: JwksLookup;
}

/** Where the control plane looks for an issuer's keys when the rule names no jwksUri. */
export function discoveryUrl(issuer: string): string | undefined {
  if (!/^https?:\/\//.test(issuer)) return undefined;
  return issuer.replace(/\/+$/, "") + DISCOVERY_SUFFIX;
}

export function isDiscoveryUrl(uri: string): boolean {
  return uri.endsWith(DISCOVERY_SUFFIX);
}

/** The URI whose keys a rule needs fetched (its jwksUri or discovery URL); undefined when inline or none. */
export function jwksSourceOf(rule: Record<string, unknown>): string | undefined {
  if ((str(rule.jwks) ?? "") !== "") return undefined;
  const uri = str(rule.jwksUri) ?? str(rule.jwks_uri) ?? "";
  return uri !== "" ? uri : discoveryUrl(str(rule.issuer) ?? "");
}

/**
 * A JWKS that parses and verifies nothing: one RSA key whose 2048-bit modulus is a hash of
 * `seed` (no one knows its factors). Deterministic, so an unchanged failure pushes nothing.
 */
export function unverifiableJwks(seed: string): string {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length < 8; i++) parts.push(createHash("sha256").update(`mizzen-unavailable-jwks:${i}:${seed}`).digest());
  const n = Buffer.concat(parts);
  n[0]! |= 0x80; // full 2048 bits
  n[n.length - 1]! |= 1; // odd, as a modulus is
  return JSON.stringify({ keys: [{ kty: "RSA", kid: "mizzen-jwks-unavailable", alg: "RS256", use: "sig", e: "AQAB", n: n.toString("base64url") }] });
}

/** True for text shaped as a JWKS: a JSON object with a non-empty "keys" list of objects with "kty". */
export function looksLikeJwks(text: string): boolean {
  try {
    const keys = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
    return Array.isArray(keys) && keys.length > 0 && keys.every((k) => isObj(k) && typeof k.kty === "string");
  } catch {
    return false;
  }
}



interface PlacedRule {
  rule: Record<string, unknown>;
  issuer: string;
  namespace: string;
  name: string;
  index: number;
}

function keysFor(rule: Record<string, unknown>, lookup: JwksLookup): string {
  const inline = str(rule.jwks) ?? "";
  if (inline !== "") return looksLikeJwks(inline) ? inline : unverifiableJwks(`inline:${inline}`);
  const source = jwksSourceOf(rule);
  if (source === undefined) return unverifiableJwks(`issuer:${str(rule.issuer) ?? ""}`);
  const found = lookup(source);
  return found && "jwks" in found ? found.jwks : unverifiableJwks(source);
}

function provider(rule: Record<string, unknown>, lookup: JwksLookup): Record<string, unknown> {
  const p: Record<string, unknown> = { issuer: str(rule.issuer) ?? "" };
  const audiences = strs(rule.audiences);
  if (audiences.length) p.audiences = audiences;
  p.local_jwks = { inline_string: keysFor(rule, lookup) };
  if (bool(rule.forwardOriginalToken) === true) p.forward = true;
  const headers = arr(rule.fromHeaders).map((h) => ({ name: str(obj(h)?.name) ?? "", ...(str(obj(h)?.prefix) ? { value_prefix: str(obj(h)?.prefix) } : {}) }));
  if (headers.length) p.from_headers = headers;
  const params = strs(rule.fromParams);
  if (params.length) p.from_params = params;
  const cookies = strs(rule.fromCookies);
  if (cookies.length) p.from_cookies = cookies;
  const payloadHeader = str(rule.outputPayloadToHeader) ?? "";
  if (payloadHeader !== "") p.forward_payload_header = payloadHeader;
  p.payload_in_metadata = JWT_PAYLOAD_METADATA_KEY;
  p.normalize_payload_in_metadata = { space_delimited_claims: [...new Set([...strs(rule.spaceDelimitedClaims), ...DEFAULT_SPACE_DELIMITED])].sort() };
  const claims = arr(rule.outputClaimToHeaders).map((c) => ({ header_name: str(obj(c)?.header) ?? "", claim_name: str(obj(c)?.claim) ?? "" }));
  if (claims.length) p.claim_to_headers = claims;
  return p;
}

function optional(name: string): Record<string, unknown> {
  return { requires_any: { requirements: [{ provider_name: name }, { allow_missing: {} }] } };
}

/** The jwt_authn filter for a workload, or undefined when no RequestAuthentication applies. */
export function jwtAuthnFilter(policies: readonly ConfigObject[], workload: JwtWorkload, opts: JwtOptions): JwtHttpFilter | undefined {
  const placed: PlacedRule[] = [];
  for (const o of policies) {
    if (!appliesToWorkload(o, "RequestAuthentication", workload, opts.rootNamespace)) continue;
    arr(o.spec.jwtRules).forEach((r, index) => {
      const rule = obj(r);
      if (rule) placed.push({ rule, issuer: str(rule.issuer) ?? "", namespace: o.metadata.namespace, name: o.metadata.name, index });
    });
  }
  if (placed.length === 0) return undefined;
  placed.sort((a, b) => compareText(a.issuer, b.issuer) || compareText(a.namespace, b.namespace) || compareText(a.name, b.name) || a.index - b.index);
  const providers: Record<string, Record<string, unknown>> = {};
  const names = placed.map((p, i) => {
    const name = `origins-${i}`;
    providers[name] = provider(p.rule, opts.jwks);
    return name;
  });
  const requires = names.length === 1
    ? optional(names[0]!)
    : { requires_any: { requirements: [...names.map((n) => ({ provider_name: n })), { requires_all: { requirements: names.map(optional) } }] } };
  return {
    name: JWT_AUTHN_FILTER_NAME,
    typed_config: {
      "@type": JWT_AUTHN_TYPE_URL,
      providers,
      rules: [{ match: { prefix: "/" }, requires }],
      bypass_cors_preflight: true,
    },
  };
}

/** Every URI whose keys the applying rules need, for JwksCache.prune after a config change. */
export function jwksSourcesInUse(policies: readonly ConfigObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of policies) {
    if (o.kind !== "RequestAuthentication") continue;
    for (const r of arr(o.spec?.jwtRules)) {
      const rule = obj(r);
      const src = rule ? jwksSourceOf(rule) : undefined;
      if (src !== undefined) out.add(src);
    }
  }
  return out;
}
