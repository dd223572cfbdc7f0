// One AuthorizationPolicy rule -> one RBAC Policy, as Istio's authz model builds it:
//  - each `from` entry is one principal and each `to` entry one permission (OR across entries);
//    no `from` (or no `to`) means one that matches anything;
//  - inside an entry every field is ANDed; a field's values are ORed, its not-values are
//    "not (any of)"; `when` conditions are ANDed onto every entry of their side.
// A value that cannot be expressed (bad CIDR, bad port, malformed key) fails closed the way
// Istio does: an ALLOW rule is dropped entirely (it allows less), a DENY or AUDIT rule skips
// just that value (it matches more). Istio drops a rule with an unknown `when` key whatever
// the action; Mizzen treats that key like a bad value instead, so a DENY rule widens rather
// than disappears (validation rejects unknown keys, so this only guards bypassed validation).
import { arr, obj, str, type Obj } from "../registry/read-spec.ts";
import type { Permission, Principal, RbacAction, RbacPolicy } from "./authz-types.ts";
import {
  authnList, authnString, AuthzValueError, cidr, headerMatch, hostMatch, istioString, nameInBrackets,
  namesInNestedBrackets, namespaceMatch, pathMatch, port, principalMatch, serviceAccountMatch,
} from "./authz-matchers.ts";

export interface RuleContext {
  action: RbacAction;
  /** The policy's namespace: the default namespace of serviceAccounts values. */
  namespace: string;
  trustDomain: string;
  /**
   * For a TCP chain (network RBAC), as Istio: an HTTP-only field (hosts, methods, paths,
   * requestPrincipals, request.* conditions) cannot match a connection, so an ALLOW rule using
   * one is dropped (allows less) and a DENY or AUDIT rule ignores it (denies more).
   */
  tcp?: boolean;
}

/** A generator for a field TCP connections do not have; `generate` then drops or skips it. */
function httpOnly<T>(name: string): Gen<T> {
  return () => {
    throw new AuthzValueError(`${name} applies to HTTP requests only`);
  };
}

type Gen<T> = (value: string) => T;

interface Field<T> { gen: Gen<T>; values: string[]; notValues: string[] }

/** Thrown when the whole rule must be dropped (ALLOW rules only). */
class DropRule extends Error {}

function values(v: unknown): string[] {
  return arr(v).flatMap((x) => (typeof x === "string" ? [x] : typeof x === "number" ? [String(x)] : []));
}

function field<T>(gen: Gen<T>, spec: Obj, key: string, notKey: string): Field<T> {
  return { gen, values: values(spec[key]), notValues: values(spec[notKey]) };
}

type Side = "permission" | "principal";
interface WhenGen { side: Side; gen: Gen<Permission> | Gen<Principal> }

/** The generator for one `when` key; undefined for a key Istio does not know. */
function whenGenerator(key: string, ctx: RuleContext): WhenGen | undefined {
  const perm = (gen: Gen<Permission>): WhenGen => ({ side: "permission", gen });
  const prin = (gen: Gen<Principal>): WhenGen => ({ side: "principal", gen });
  if (ctx.tcp && key.startsWith("request.")) return prin(httpOnly(key)); // every request.* key is HTTP-only
  switch (key) {
    case "destination.ip": return perm((v) => ({ destination_ip: cidr(v) }));
    case "destination.port": return perm((v) => ({ destination_port: port(v) }));
    case "connection.sni": return perm((v) => ({ requested_server_name: istioString(v) }));
    case "source.ip": return prin((v) => ({ direct_remote_ip: cidr(v) }));
    case "remote.ip": return prin((v) => ({ remote_ip: cidr(v) }));
    case "source.namespace": return prin((v) => ({ authenticated: { principal_name: namespaceMatch(v) } }));
    case "source.serviceAccount": return prin((v) => ({ authenticated: { principal_name: serviceAccountMatch(v, ctx.namespace) } }));
    case "source.principal": return prin((v) => ({ authenticated: { principal_name: principalMatch(v, ctx.trustDomain) } }));
    case "request.auth.principal": return prin((v) => ({ metadata: authnString(key, v) }));
    case "request.auth.audiences": return prin((v) => ({ metadata: authnList([key], v) }));
    case "request.auth.presenter": return prin((v) => ({ metadata: authnString(key, v) }));
  }
  if (key.startsWith("request.headers")) {
    return prin((v) => ({ header: headerMatch(nameInBrackets(key.slice("request.headers".length)), v) }));
  }
  if (key.startsWith("request.auth.claims")) {
    return prin((v) => ({ metadata: authnList(["request.auth.claims", ...namesInNestedBrackets(key.slice("request.auth.claims".length))], v) }));
  }
  return undefined;
}

/** Runs `gen` on each value; a bad value drops the rule (ALLOW) or is skipped (DENY, AUDIT). */
function generate<T>(f: Field<T>, list: string[], action: RbacAction): T[] {
  const out: T[] = [];
  for (const v of list) {
    try {
      out.push(f.gen(v));
    } catch (err) {
      if (!(err instanceof AuthzValueError)) throw err;
      if (action === "ALLOW") throw new DropRule(err.message);
    }
  }
  return out;
}

interface SetOps<T> { or: (xs: T[]) => T; not: (x: T) => T; and: (xs: T[]) => T; any: T }

const PERMISSION_OPS: SetOps<Permission> = {
  or: (rules) => ({ or_rules: { rules } }),
  not: (rule) => ({ not_rule: rule }),
  and: (rules) => ({ and_rules: { rules } }),
  any: { any: true },
};
const PRINCIPAL_OPS: SetOps<Principal> = {
  or: (ids) => ({ or_ids: { ids } }),
  not: (id) => ({ not_id: id }),
  and: (ids) => ({ and_ids: { ids } }),
  any: { any: true },
};

/** AND of the fields: each contributes "any of values" and "not any of notValues". */
function combine<T>(fields: Field<T>[], ops: SetOps<T>, action: RbacAction): T {
  const and: T[] = [];
  for (const f of fields) {
    const yes = generate(f, f.values, action);
    if (yes.length > 0) and.push(ops.or(yes));
    const no = generate(f, f.notValues, action);
    if (no.length > 0) and.push(ops.not(ops.or(no)));
  }
  return ops.and(and.length > 0 ? and : [ops.any]);
}

function sourceFields(s: Obj, ctx: RuleContext): Field<Principal>[] {
  return [
    field((v) => ({ authenticated: { principal_name: principalMatch(v, ctx.trustDomain) } }), s, "principals", "notPrincipals"),
    field(ctx.tcp ? httpOnly("requestPrincipals") : (v) => ({ metadata: authnString("request.auth.principal", v) }), s, "requestPrincipals", "notRequestPrincipals"),
    field((v) => ({ authenticated: { principal_name: serviceAccountMatch(v, ctx.namespace) } }), s, "serviceAccounts", "notServiceAccounts"),
    field((v) => ({ authenticated: { principal_name: namespaceMatch(v) } }), s, "namespaces", "notNamespaces"),
    field((v) => ({ remote_ip: cidr(v) }), s, "remoteIpBlocks", "notRemoteIpBlocks"),
    field((v) => ({ direct_remote_ip: cidr(v) }), s, "ipBlocks", "notIpBlocks"),
  ];
}

function operationFields(o: Obj, ctx: RuleContext): Field<Permission>[] {
  const http = <T>(name: string, gen: Gen<T>): Gen<T> => (ctx.tcp ? httpOnly(name) : gen);
  return [
    field(http("hosts", (v) => ({ header: hostMatch(v) })), o, "hosts", "notHosts"),
    field(http("methods", (v) => ({ header: headerMatch(":method", v) })), o, "methods", "notMethods"),
    field(http("paths", (v) => ({ url_path: { path: pathMatch(v) } })), o, "paths", "notPaths"),
    field((v) => ({ destination_port: port(v) }), o, "ports", "notPorts"),
  ];
}

/** The `when` conditions split by side; unknown keys fail closed (see the file comment). */
function whenFields(rule: Obj, ctx: RuleContext): { permission: Field<Permission>[]; principal: Field<Principal>[] } {
  const out = { permission: [] as Field<Permission>[], principal: [] as Field<Principal>[] };
  for (const raw of arr(rule.when)) {
    const cond = obj(raw) ?? {};
    const key = str(cond.key) ?? "";
    const g = whenGenerator(key, ctx);
    if (!g) {
      if (ctx.action === "ALLOW") throw new DropRule(`unknown attribute "${key}"`);
      continue;
    }
    const f = { values: values(cond.values), notValues: values(cond.notValues) };
    if (g.side === "permission") out.permission.push({ ...f, gen: g.gen as Gen<Permission> });
    else out.principal.push({ ...f, gen: g.gen as Gen<Principal> });
  }
  return out;
}

/**
 * The RBAC policy for one rule, or a reason when the rule is dropped (an ALLOW rule holding
 * a value or `when` key that cannot be honoured).
 */
export function ruleToPolicy(rawRule: unknown, ctx: RuleContext): RbacPolicy | { dropped: string } {
  const rule = obj(rawRule);
  if (!rule) return { dropped: "the rule is empty (null)" };
  try {
    const when = whenFields(rule, ctx);
    const froms = arr(rule.from).map((f) => obj(obj(f)?.source) ?? {});
    const tos = arr(rule.to).map((t) => obj(obj(t)?.operation) ?? {});
    const principals = (froms.length > 0 ? froms : [{}]).map((s) => combine([...sourceFields(s, ctx), ...when.principal], PRINCIPAL_OPS, ctx.action));
    const permissions = (tos.length > 0 ? tos : [{}]).map((o) => combine([...operationFields(o, ctx), ...when.permission], PERMISSION_OPS, ctx.action));
    return { permissions, principals };
  } catch (err) {
    if (err instanceof DropRule) return { dropped: err.message };
    throw err;
  }
}

/** Istio's stand-in for a policy without rules: a permission and a principal that never match. */
export const MATCH_NEVER: RbacPolicy = {
  permissions: [{ not_rule: { any: true } }],
  principals: [{ not_id: { any: true } }],
};
