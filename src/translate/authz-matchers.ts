// One AuthorizationPolicy value -> one Envoy matcher, Istio's way. Istio values use "*" as
// the whole value (present / any non-empty), a leading "*" (suffix) or a trailing "*" (prefix);
// anything else is exact. A value that cannot be expressed throws AuthzValueError; the rule
// builder decides what that means for the rule (authz-rule.ts).
import { isIP } from "node:net";
import type { HeaderMatcher, StringMatcher } from "../xds/envoy-types.ts";
import { AUTHN_FILTER, type CidrRange, type MetadataMatcher, type ValueMatcher } from "./authz-types.ts";

export class AuthzValueError extends Error {}

const SPIFFE = "spiffe://";
const DEFAULT_TRUST_DOMAIN = "cluster.local";

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Istio's string form; `prefix` (e.g. "spiffe://") is put before the value unless it is "*". */
export function istioString(v: string, prefix = "", ignoreCase = false): StringMatcher {
  const ic = ignoreCase ? { ignore_case: true } : {};
  if (v === "*") return { safe_regex: { regex: ".+" } };
  if (v.startsWith("*")) {
    const suffix = v.slice(1);
    // A suffix match cannot also demand a fixed prefix, so that pair becomes a regex.
    return prefix === "" ? { suffix, ...ic } : { safe_regex: { regex: `${escapeRegex(prefix)}.*${escapeRegex(suffix)}` }, ...ic };
  }
  if (v.endsWith("*")) return { prefix: prefix + v.slice(0, -1), ...ic };
  return { exact: prefix + v, ...ic };
}

/** A request header (or :method) condition: "*" means the header is present. */
export function headerMatch(name: string, v: string, ignoreCase = false): HeaderMatcher {
  if (v === "*") return { name, present_match: true };
  return { name, string_match: istioString(v, "", ignoreCase) };
}

/** Hosts are compared with :authority, case-insensitively. */
export function hostMatch(v: string): HeaderMatcher {
  return headerMatch(":authority", v, true);
}

const TEMPLATE_ONE = "{*}";
const TEMPLATE_ANY = "{**}";

/**
 * A path as a StringMatcher on the path without query. Path templates ("/a/{*}/b",
 * "/a/{**}") become a regex: {*} is one non-empty segment, {**} anything that follows.
 */
export function pathMatch(v: string): StringMatcher {
  if (!v.includes(TEMPLATE_ONE) && !v.includes(TEMPLATE_ANY)) return istioString(v);
  const regex = v
    .split(TEMPLATE_ANY)
    .map((part) => part.split(TEMPLATE_ONE).map(escapeRegex).join("[^/]+"))
    .join(".*");
  return { safe_regex: { regex } };
}

/** "10.1.2.3" (a /32 or /128) or "10.1.0.0/16". */
export function cidr(v: string): CidrRange {
  const [address, bits, extra] = v.split("/");
  const family = isIP(address ?? "");
  if (extra !== undefined || family === 0) throw new AuthzValueError(`"${v}" is not an IP address or CIDR block`);
  const max = family === 4 ? 32 : 128;
  if (bits === undefined) return { address_prefix: address!, prefix_len: { value: max } };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new AuthzValueError(`"${v}": prefix length must be 0..${max}`);
  return { address_prefix: address!, prefix_len: { value: Number(bits) } };
}

export function port(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new AuthzValueError(`"${v}" is not a port (0..65535)`);
  return Number(v);
}

/**
 * Istio writes identities without "spiffe://"; one in the default "cluster.local" trust domain
 * (or already in the mesh's) is rewritten to the mesh's trust domain, as Istio does.
 */
export function principalMatch(v: string, trustDomain: string): StringMatcher {
  let value = v;
  if (!v.startsWith("*")) {
    const parts = v.split("/");
    if (parts.length === 5 && (parts[0] === DEFAULT_TRUST_DOMAIN || parts[0] === trustDomain)) {
      value = [trustDomain, ...parts.slice(1)].join("/");
    }
  }
  return istioString(value, SPIFFE);
}

/** source.namespace: any identity whose path holds /ns/<namespace>/ ("*" within allowed). */
export function namespaceMatch(v: string): StringMatcher {
  return { safe_regex: { regex: `.*/ns/${v.split("*").map(escapeRegex).join(".*")}/.*` } };
}

/** source.serviceAccount: "<sa>" (in the policy's namespace) or "<namespace>/<sa>". */
export function serviceAccountMatch(v: string, policyNamespace: string): StringMatcher {
  const slash = v.indexOf("/");
  const ns = slash < 0 ? policyNamespace : v.slice(0, slash);
  const sa = slash < 0 ? v : v.slice(slash + 1);
  if (ns === "" || sa === "" || sa.includes("/")) throw new AuthzValueError(`"${v}" is not a service account ("name" or "namespace/name")`);
  return { safe_regex: { regex: `spiffe://.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?` } };
}

/** A string value in the JWT filter's metadata (request.auth.principal, .presenter). */
export function authnString(key: string, v: string): MetadataMatcher {
  return { filter: AUTHN_FILTER, path: [{ key }], value: { string_match: istioString(v) } };
}

/** A list value in the JWT filter's metadata: one element must match (audiences, claims). */
export function authnList(keys: readonly string[], v: string): MetadataMatcher {
  const oneOf: ValueMatcher = { string_match: istioString(v) };
  return { filter: AUTHN_FILTER, path: keys.map((key) => ({ key })), value: { list_match: { one_of: oneOf } } };
}

/** "[name]" -> "name". */
export function nameInBrackets(s: string): string {
  if (!s.startsWith("[") || !s.endsWith("]") || s.length < 3) throw new AuthzValueError(`expected [<name>], found "${s}"`);
  const name = s.slice(1, -1);
  if (name.includes("[") || name.includes("]")) throw new AuthzValueError(`expected [<name>], found "${s}"`);
  return name;
}

/** "[a][b]" -> ["a", "b"] (nested JWT claims). */
export function namesInNestedBrackets(s: string): string[] {
  const names: string[] = [];
  let at = 0;
  while (at < s.length) {
    const end = s.indexOf("]", at);
    if (s[at] !== "[" || end < 0) throw new AuthzValueError(`expected [<claim>] or [<claim>][<nested>], found "${s}"`);
    const name = s.slice(at + 1, end);
    if (name === "" || name.includes("[")) throw new AuthzValueError(`expected [<claim>] or [<claim>][<nested>], found "${s}"`);
    names.push(name);
    at = end + 1;
  }
  if (names.length === 0) throw new AuthzValueError("a claim name in brackets is required, e.g. request.auth.claims[groups]");
  return names;
}
