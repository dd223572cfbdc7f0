// AuthorizationPolicy checks beyond the basics in security.ts: `when` keys Istio knows (and
// the ones Mizzen cannot honour), IP and CIDR values, ports in conditions, wildcard placement,
// path templates, empty values. Every message names the value and the fix.
import { ipOrCidr, isObj, Issues, list, obj, type Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

const PLAIN_KEYS = new Set([
  "source.ip", "remote.ip", "source.namespace", "source.serviceAccount", "source.principal",
  "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
  "destination.ip", "destination.port", "connection.sni",
]);

const KEY_HELP = "known keys: request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, " +
  "request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[<claim>], " +
  "destination.ip, destination.port, connection.sni";

/** Why a `when` key cannot be used, or null when it is fine. */
function whenKeyProblem(key: string): string | null {
  if (PLAIN_KEYS.has(key)) return null;
  if (key.startsWith("request.headers")) {
    return /^request\.headers\[[^\[\]]+\]$/.test(key) ? null : `"${key}" should name one header in brackets, e.g. request.headers[x-api-key]`;
  }
  if (key.startsWith("request.auth.claims")) {
    return /^request\.auth\.claims(\[[^\[\]]+\])+$/.test(key) ? null : `"${key}" should name a claim in brackets, e.g. request.auth.claims[groups] or request.auth.claims[realm][roles]`;
  }
  if (key === "destination.namespace") return `"${key}" is not an attribute: put the policy in that namespace instead`;
  if (key.startsWith("destination.labels")) return `"${key}" is not an attribute: use the policy's selector instead`;
  if (key === "destination.name" || key === "destination.user") return `"${key}" was only supported by the old v1alpha1 RBAC API; use a selector`;
  if (key.startsWith("experimental.") || key.startsWith("request.experimental.")) return `"${key}" is an experimental Istio attribute the Mizzen proxy does not support; ${KEY_HELP}`;
  return `unknown attribute "${key}"; ${KEY_HELP}`;
}

function portProblem(v: string): string | null {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535 ? null : `"${v}" is not a port; use a number from 0 to 65535 as a string, e.g. "8080"`;
}

/** "*" is a wildcard only as the whole value or its first or last character. */
function wildcardProblem(v: string): string | null {
  const inner = v.slice(1, -1);
  return v.length > 2 && inner.includes("*") ? `"${v}": "*" is a wildcard only at the start or end of a value (e.g. "/api/*" or "*.example.com")` : null;
}

const TEMPLATE = /\{\*\*?\}/;

function pathProblem(v: string): string | null {
  if (TEMPLATE.test(v)) {
    const rest = v.replace(/\{\*\*?\}/g, "");
    if (/[{}*]/.test(rest)) return `path template "${v}" may use only {*} (one segment) and {**} (the rest), with no other "*", "{" or "}"`;
    const any = v.indexOf("{**}");
    if (any >= 0 && v.slice(any + 4).includes("{")) return `path template "${v}": {**} must be the last operator`;
    if (!v.startsWith("/")) return `path template "${v}" must start with "/"`;
    return null;
  }
  return wildcardProblem(v);
}

type Check = (v: string) => string | null;

/** Checks each entry of a string list: present, a non-empty string, then `more`. */
function strings(out: Issues, at: PathSegment[], raw: unknown, more?: Check): string[] {
  const values: string[] = [];
  list(raw).forEach((v, i) => {
    if (typeof v !== "string") return out.error([...at, i], `must be a string (got ${JSON.stringify(v)}); quote it`);
    if (v === "") return out.error([...at, i], "empty values are not allowed; remove it or use \"*\" for any value");
    out.check([...at, i], more ? more(v) : null);
    values.push(v);
  });
  return values;
}

const IP_FIELDS = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"];
const SOURCE_STRING_FIELDS = ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts"];

function checkSource(src: Obj, at: PathSegment[], out: Issues): void {
  for (const f of IP_FIELDS) strings(out, [...at, f], src[f], ipOrCidr);
  for (const f of SOURCE_STRING_FIELDS) {
    const values = strings(out, [...at, f], src[f], wildcardProblem);
    if (f === "principals" || f === "notPrincipals") {
      values.forEach((v, i) => {
        if (v.startsWith("spiffe://")) out.warn([...at, f, i], `"${v}" never matches: principals are written without "spiffe://", e.g. "cluster.local/ns/default/sa/sleep"`);
      });
    }
  }
}

function checkOperation(op: Obj, at: PathSegment[], out: Issues): void {
  for (const f of ["hosts", "notHosts"]) strings(out, [...at, f], op[f], wildcardProblem);
  for (const f of ["paths", "notPaths"]) {
    strings(out, [...at, f], op[f], pathProblem).forEach((v, i) => {
      if (!v.startsWith("/") && !v.startsWith("*")) out.warn([...at, f, i], `path "${v}" does not start with "/" and will never match a request path`);
    });
  }
  for (const f of ["methods", "notMethods"]) {
    strings(out, [...at, f], op[f], wildcardProblem).forEach((v, i) => {
      if (v !== v.toUpperCase()) out.warn([...at, f, i], `method "${v}" is compared case-sensitively; write "${v.toUpperCase()}"`);
    });
  }
}

const IP_KEYS = new Set(["source.ip", "remote.ip", "destination.ip"]);

function checkCondition(cond: Obj, at: PathSegment[], out: Issues): void {
  if (typeof cond.key !== "string" || cond.key === "") return; // reported by validateAuthorizationPolicy
  const key = cond.key;
  const problem = whenKeyProblem(key);
  if (problem) return out.error([...at, "key"], problem);
  const more: Check | undefined = IP_KEYS.has(key) ? ipOrCidr : key === "destination.port" ? portProblem : wildcardProblem;
  strings(out, [...at, "values"], cond.values, more);
  strings(out, [...at, "notValues"], cond.notValues, more);
}

/** The extra AuthorizationPolicy checks; call after validateAuthorizationPolicy. */
export function checkAuthorizationPolicyMore(spec: Obj, out: Issues): void {
  list(spec.rules).forEach((r, i) => {
    if (!isObj(r)) return;
    const at: PathSegment[] = ["spec", "rules", i];
    list(r.from).forEach((f, j) => {
      const src = obj(f).source;
      if (isObj(src)) checkSource(src, [...at, "from", j, "source"], out);
    });
    list(r.to).forEach((t, j) => {
      const op = obj(t).operation;
      if (isObj(op)) checkOperation(op, [...at, "to", j, "operation"], out);
    });
    list(r.when).forEach((w, j) => checkCondition(obj(w), [...at, "when", j], out));
  });
}
