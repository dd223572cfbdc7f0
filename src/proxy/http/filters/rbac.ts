// envoy.filters.http.rbac: role-based access control on a request, Envoy's semantics.
// An HCM may list several RBAC filters (Istio emits AUDIT, then DENY, then ALLOW); they run in
// order and the first denial ends the request with 403. Per filter:
//  - ALLOW: denies unless some policy matches (no policies: denies everything);
//  - DENY:  denies when some policy matches;
//  - LOG:   never denies; a matching policy is recorded (Istio's AUDIT);
//  - shadow_rules are evaluated and reported, never enforced (Istio's dry-run);
//  - no rules at all: the filter enforces nothing.
// A policy matches when some permission and some principal match. Policies are tried in name
// order (Envoy keeps them in a sorted map), so the reported policy is deterministic.
import type { IncomingHttpHeaders } from "node:http";
import { ConfigInvalid } from "../../state/string-match.ts";
import { compilePolicy } from "./rbac-compile.ts";
import type { EvalContext, Pred } from "./rbac-matchers.ts";

export const RBAC_FILTER_NAME = "envoy.filters.http.rbac";
export const RBAC_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
/** The network filter's config: the same rules, plus a stat prefix; evaluated per connection. */
export const NETWORK_RBAC_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";
/** Envoy's local reply for a denied request. */
export const RBAC_DENIED_STATUS = 403;
export const RBAC_DENIED_BODY = "RBAC: access denied";

export interface AuthzRequest {
  method: string;
  /** The request target with its query. */
  path: string;
  authority: string;
  headers: IncomingHttpHeaders;
  /** The peer of the connection. */
  directRemoteIp: string;
  /** The original client (x-forwarded-for as the HCM trusts it), else the peer. */
  remoteIp: string;
  destinationIp: string;
  destinationPort: number;
  /** Peer certificate URI SAN, e.g. "spiffe://cluster.local/ns/foo/sa/bar"; undefined for plaintext. */
  principal: string | undefined;
  sni: string | undefined;
  /** Dynamic metadata by namespace; the JWT filter writes "istio_authn". */
  metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A dry-run (shadow) result, as Envoy reports it in <prefix>shadow_engine_result / shadow_effective_policy_id. */
export interface ShadowResult { prefix: string; allowed: boolean; policy?: string }

export interface AuthzDecision {
  allowed: boolean;
  /** The RBAC policy id that decided a denial (the matching DENY policy); none when no ALLOW policy matched. */
  policy?: string;
  reason?: "denied_by_policy" | "no_allow_policy_matched";
  /** Policies of LOG (AUDIT) filters that matched, one per filter. */
  audited?: string[];
  /** Results of shadow rules (dry-run policies), one per filter that has them. */
  shadow?: ShadowResult[];
}

type Action = "ALLOW" | "DENY" | "LOG";

interface Engine {
  readonly action: Action;
  readonly ids: readonly string[];
  readonly preds: readonly Pred[];
}

export interface CompiledRbac {
  readonly enforce: Engine | undefined;
  readonly shadow: Engine | undefined;
  readonly shadowPrefix: string;
}

const ACTIONS: readonly Action[] = ["ALLOW", "DENY", "LOG"];

function compileEngine(raw: unknown, field: string): Engine | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigInvalid(field, "must be an RBAC object");
  const r = raw as { action?: unknown; policies?: unknown; audit_logging_options?: { logger_configs?: unknown[] } };
  // ALLOW is the enum's zero value: it is absent from a decoded message.
  const action = (r.action ?? "ALLOW") as Action;
  if (!ACTIONS.includes(action)) throw new ConfigInvalid(`${field}.action`, `"${String(r.action)}" is not one of ALLOW, DENY, LOG`);
  if ((r.audit_logging_options?.logger_configs?.length ?? 0) > 0) {
    throw new ConfigInvalid(`${field}.audit_logging_options`, "RBAC audit loggers are not supported by the Mizzen proxy; use action LOG and the access log");
  }
  const policies = r.policies ?? {};
  if (typeof policies !== "object" || Array.isArray(policies)) throw new ConfigInvalid(`${field}.policies`, "must be a map of policy name to policy");
  const ids = Object.keys(policies).sort();
  const preds = ids.map((id) => compilePolicy((policies as Record<string, unknown>)[id], `${field}.policies["${id}"]`));
  return { action, ids, preds };
}

/** The HTTP (or, with `typeUrl`, the network) filter's typed_config (rbac.v3.RBAC, object form) -> CompiledRbac. Throws ConfigInvalid. */
export function compileRbac(typedConfig: unknown, field: string, typeUrl: string = RBAC_TYPE_URL): CompiledRbac {
  if (typeof typedConfig !== "object" || typedConfig === null || Array.isArray(typedConfig)) throw new ConfigInvalid(field, "RBAC config must be an object");
  const cfg = typedConfig as Record<string, unknown>;
  const type = cfg["@type"];
  if (type !== undefined && type !== typeUrl) throw new ConfigInvalid(`${field}["@type"]`, `expected ${typeUrl}, got ${String(type)}`);
  for (const k of ["matcher", "shadow_matcher"]) {
    if (cfg[k] !== undefined && cfg[k] !== null) throw new ConfigInvalid(`${field}.${k}`, "the matcher-tree form of RBAC is not supported by the Mizzen proxy; use rules / shadow_rules");
  }
  const prefix = cfg.shadow_rules_stat_prefix;
  return {
    enforce: compileEngine(cfg.rules, `${field}.rules`),
    shadow: compileEngine(cfg.shadow_rules, `${field}.shadow_rules`),
    shadowPrefix: typeof prefix === "string" ? prefix : "",
  };
}

/** The first matching policy's id (name order), or undefined. */
function firstMatch(e: Engine, c: EvalContext): string | undefined {
  for (let i = 0; i < e.preds.length; i++) if (e.preds[i]!(c)) return e.ids[i];
  return undefined;
}

const ALLOWED: AuthzDecision = Object.freeze({ allowed: true });

function withRecords(d: AuthzDecision, audited: string[] | undefined, shadow: ShadowResult[] | undefined): AuthzDecision {
  if (!audited && !shadow) return d;
  return { ...d, ...(audited ? { audited } : {}), ...(shadow ? { shadow } : {}) };
}

/** Runs the filters in order; stops at the first denial. Never throws for any request. */
export function evaluateRbac(filters: readonly CompiledRbac[], req: AuthzRequest): AuthzDecision {
  if (filters.length === 0) return ALLOWED;
  const c: EvalContext = { req, directIp: null, remoteIp: null, destinationIp: null, urlPath: null };
  let audited: string[] | undefined;
  let shadow: ShadowResult[] | undefined;
  for (const f of filters) {
    if (f.shadow) {
      const hit = firstMatch(f.shadow, c);
      const allowed = f.shadow.action === "ALLOW" ? hit !== undefined : f.shadow.action === "DENY" ? hit === undefined : true;
      (shadow ??= []).push(hit === undefined ? { prefix: f.shadowPrefix, allowed } : { prefix: f.shadowPrefix, allowed, policy: hit });
    }
    const e = f.enforce;
    if (!e) continue;
    const hit = firstMatch(e, c);
    if (e.action === "LOG") {
      if (hit !== undefined) (audited ??= []).push(hit);
    } else if (e.action === "DENY") {
      if (hit !== undefined) return withRecords({ allowed: false, policy: hit, reason: "denied_by_policy" }, audited, shadow);
    } else if (hit === undefined) {
      return withRecords({ allowed: false, reason: "no_allow_policy_matched" }, audited, shadow);
    }
  }
  return withRecords(ALLOWED, audited, shadow);
}

/** Envoy's response code details for a denial: rbac_access_denied_matched_policy[<id>|none]. */
export function rbacDenialDetails(d: AuthzDecision): string {
  return `rbac_access_denied_matched_policy[${d.policy ?? "none"}]`;
}
