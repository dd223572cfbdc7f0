// envoy.config.rbac.v3 Permission / Principal / Policy trees -> predicate closures, built once
// per snapshot. Anything the proxy cannot honour (CEL conditions, filter_state, extension
// matchers, URI templates) is refused with the field path, so the update is NACKed rather than
// enforced differently from what the control plane meant.
import type { StringMatcher } from "../../../xds/envoy-types.ts";
import { compileStringMatcher, ConfigInvalid } from "../../state/string-match.ts";
import { compileCidr, parseIp, type CidrTest } from "./rbac-cidr.ts";
import {
  asObject, compileHeaderMatcher, compileMetadataMatcher, compilePathMatcher, oneOf, type EvalContext, type Pred,
} from "./rbac-matchers.ts";

const MAX_DEPTH = 64;

const PERMISSION_KINDS = [
  "and_rules", "or_rules", "any", "header", "url_path", "destination_ip", "destination_port",
  "destination_port_range", "metadata", "not_rule", "requested_server_name",
] as const;

const PRINCIPAL_KINDS = [
  "and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip", "remote_ip",
  "header", "url_path", "metadata", "not_id",
] as const;

const TRUE: Pred = () => true;

function all(preds: Pred[]): Pred {
  if (preds.length === 1) return preds[0]!;
  return (c) => {
    for (let i = 0; i < preds.length; i++) if (!preds[i]!(c)) return false;
    return true;
  };
}

function some(preds: Pred[]): Pred {
  if (preds.length === 1) return preds[0]!;
  return (c) => {
    for (let i = 0; i < preds.length; i++) if (preds[i]!(c)) return true;
    return false;
  };
}

function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigInvalid(field, "needs at least one entry");
  return v;
}

function anyTrue(v: unknown, field: string): Pred {
  if (v !== true) throw new ConfigInvalid(field, "any must be true when set");
  return TRUE;
}

// Each address is parsed at most once per request, on first use.
function directIp(c: EvalContext) {
  if (c.directIp === null) c.directIp = parseIp(c.req.directRemoteIp);
  return c.directIp;
}
function remoteIp(c: EvalContext) {
  if (c.remoteIp === null) c.remoteIp = parseIp(c.req.remoteIp);
  return c.remoteIp;
}
function destinationIp(c: EvalContext) {
  if (c.destinationIp === null) c.destinationIp = parseIp(c.req.destinationIp);
  return c.destinationIp;
}

function port(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigInvalid(field, "must be a port number 0..65535");
  return v;
}

export function compilePermission(raw: unknown, field: string, depth = 0): Pred {
  if (depth > MAX_DEPTH) throw new ConfigInvalid(field, `permissions are nested deeper than ${MAX_DEPTH}`);
  const p = asObject(raw, field);
  if (p.matcher !== undefined || p.uri_template !== undefined) {
    throw new ConfigInvalid(`${field}.${p.matcher !== undefined ? "matcher" : "uri_template"}`, "extension matchers are not supported by the Mizzen proxy; use url_path, header or metadata");
  }
  const kind = oneOf(p, PERMISSION_KINDS, field, "Permission");
  const at = `${field}.${kind}`;
  const v = p[kind];
  switch (kind) {
    case "and_rules": return all(list(asObject(v, at).rules, `${at}.rules`).map((r, i) => compilePermission(r, `${at}.rules[${i}]`, depth + 1)));
    case "or_rules": return some(list(asObject(v, at).rules, `${at}.rules`).map((r, i) => compilePermission(r, `${at}.rules[${i}]`, depth + 1)));
    case "any": return anyTrue(v, at);
    case "not_rule": { const inner = compilePermission(v, at, depth + 1); return (c) => !inner(c); }
    case "header": return compileHeaderMatcher(v, at);
    case "url_path": return compilePathMatcher(v, at);
    case "metadata": return compileMetadataMatcher(v, at);
    case "destination_ip": { const t: CidrTest = compileCidr(v, at); return (c) => t(destinationIp(c)); }
    case "destination_port": { const want = port(v, at); return (c) => c.req.destinationPort === want; }
    case "destination_port_range": {
      const r = asObject(v, at);
      const start = Number(r.start ?? 0);
      const end = Number(r.end ?? 0);
      return (c) => c.req.destinationPort >= start && c.req.destinationPort < end;
    }
    default: { // requested_server_name: the SNI, "" without TLS
      const t = compileStringMatcher(v as StringMatcher, at);
      return (c) => t(c.req.sni ?? "");
    }
  }
}

export function compilePrincipal(raw: unknown, field: string, depth = 0): Pred {
  if (depth > MAX_DEPTH) throw new ConfigInvalid(field, `principals are nested deeper than ${MAX_DEPTH}`);
  const p = asObject(raw, field);
  if (p.filter_state !== undefined) throw new ConfigInvalid(`${field}.filter_state`, "filter_state principals are not supported by the Mizzen proxy");
  const kind = oneOf(p, PRINCIPAL_KINDS, field, "Principal");
  const at = `${field}.${kind}`;
  const v = p[kind];
  switch (kind) {
    case "and_ids": return all(list(asObject(v, at).ids, `${at}.ids`).map((r, i) => compilePrincipal(r, `${at}.ids[${i}]`, depth + 1)));
    case "or_ids": return some(list(asObject(v, at).ids, `${at}.ids`).map((r, i) => compilePrincipal(r, `${at}.ids[${i}]`, depth + 1)));
    case "any": return anyTrue(v, at);
    case "not_id": { const inner = compilePrincipal(v, at, depth + 1); return (c) => !inner(c); }
    case "header": return compileHeaderMatcher(v, at);
    case "url_path": return compilePathMatcher(v, at);
    case "metadata": return compileMetadataMatcher(v, at);
    case "remote_ip": { const t = compileCidr(v, at); return (c) => t(remoteIp(c)); }
    case "source_ip": // deprecated; without PROXY protocol it is the peer address
    case "direct_remote_ip": { const t = compileCidr(v, at); return (c) => t(directIp(c)); }
    default: { // authenticated: the peer certificate's URI SAN; no TLS never matches
      const a = asObject(v, at);
      if (a.principal_name === undefined || a.principal_name === null) return (c) => c.req.principal !== undefined;
      const t = compileStringMatcher(a.principal_name as StringMatcher, `${at}.principal_name`);
      return (c) => c.req.principal !== undefined && t(c.req.principal);
    }
  }
}

/** config.rbac.v3.Policy: some permission and some principal must match. */
export function compilePolicy(raw: unknown, field: string): Pred {
  const p = asObject(raw, field);
  if (p.condition !== undefined || p.checked_condition !== undefined) {
    throw new ConfigInvalid(`${field}.${p.condition !== undefined ? "condition" : "checked_condition"}`, "CEL conditions are not supported by the Mizzen proxy; express the rule with permissions and principals");
  }
  const perms = some(list(p.permissions, `${field}.permissions`).map((x, i) => compilePermission(x, `${field}.permissions[${i}]`)));
  const prins = some(list(p.principals, `${field}.principals`).map((x, i) => compilePrincipal(x, `${field}.principals[${i}]`)));
  return (c) => prins(c) && perms(c);
}
