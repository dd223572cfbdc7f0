// AuthorizationPolicy -> the RBAC HTTP filters of one workload's inbound HTTP connection
// manager, as Istio's authz builder makes them for a sidecar:
//  - which policies apply: those in the workload's namespace and those in the root namespace
//    (mesh-wide), whose selector matches the workload's labels (no selector: all workloads);
//    policies with targetRef(s) are for gateways and waypoints and are ignored here;
//  - one filter per action, in Istio's order AUDIT (RBAC LOG), DENY, ALLOW, so a DENY decides
//    before any ALLOW and an AUDIT only records;
//  - one RBAC policy per rule, named ns[<ns>]-policy[<name>]-rule[<i>]; a policy without rules
//    gets one policy that never matches (ALLOW: allow nothing; DENY: deny nothing);
//  - policies annotated istio.io/dry-run: "true" go to shadow_rules: evaluated, never enforced.
// No policy for the workload: no filter, every request is allowed.
import { appliesToWorkload, compareText } from "./selector-keys.ts";
import type { ConfigObject } from "../api/types.ts";
import type { HttpConnectionManager } from "../xds/envoy-types.ts";
import { str, arr } from "../registry/read-spec.ts";
import { warnAbout, type WarningSink } from "./input.ts";
import { MATCH_NEVER, ruleToPolicy } from "./authz-rule.ts";
import { NETWORK_RBAC_FILTER_NAME, NETWORK_RBAC_TYPE_URL, RBAC_FILTER_NAME, RBAC_TYPE_URL, type HttpRbacAny, type NetworkRbacAny, type RbacAction, type RbacRules } from "./authz-types.ts";
import type { FilterChain } from "../xds/envoy-types.ts";

export type HttpFilter = HttpConnectionManager["http_filters"][number];
export type NetworkFilter = FilterChain["filters"][number];

export interface AuthzWorkload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export interface AuthzOptions {
  /** Istio's root namespace (meshConfig.rootNamespace, "istio-system" by default). */
  rootNamespace: string;
  /** The mesh's trust domain; principals in "cluster.local" are rewritten to it. */
  trustDomain: string;
  /** Receives a warning for each rule Istio would skip (it then allows less or denies more). */
  warnings?: WarningSink;
}

const DRY_RUN = "istio.io/dry-run";
/** Istio's stat prefixes for dry-run results, also the keys of their dynamic metadata. */
const SHADOW_PREFIX: Record<RbacAction, string> = { ALLOW: "istio_dry_run_allow_", DENY: "istio_dry_run_deny_", LOG: "" };
/** Istio's AUDIT is Envoy's LOG; CUSTOM is refused by validation and never reaches here. */
const ACTIONS: readonly { istio: string; envoy: RbacAction }[] = [
  { istio: "AUDIT", envoy: "LOG" },
  { istio: "DENY", envoy: "DENY" },
  { istio: "ALLOW", envoy: "ALLOW" },
];

/** Istio's name for the RBAC policy of rule `i` of a policy. */
export function rbacPolicyName(namespace: string, name: string, i: number): string {
  return `ns[${namespace}]-policy[${name}]-rule[${i}]`;
}



function isDryRun(o: ConfigObject): boolean {
  return o.metadata.annotations?.[DRY_RUN]?.toLowerCase() === "true";
}

interface BuiltRules { rules?: RbacRules; shadow_rules?: RbacRules; shadow_rules_stat_prefix?: string }

function build(policies: ConfigObject[], action: RbacAction, opts: AuthzOptions, tcp: boolean): BuiltRules {
  const enforce: RbacRules = { action, policies: {} };
  const shadow: RbacRules = { action, policies: {} };
  let hasEnforce = false;
  let hasShadow = false;
  for (const p of policies) {
    const target = isDryRun(p) ? shadow : enforce;
    if (target === shadow) hasShadow = true;
    else hasEnforce = true;
    const { namespace, name } = p.metadata;
    const rules = arr(p.spec?.rules);
    if (rules.length === 0) target.policies[rbacPolicyName(namespace, name, 0)] = MATCH_NEVER;
    rules.forEach((rule, i) => {
      const made = ruleToPolicy(rule, { action, namespace, trustDomain: opts.trustDomain, tcp });
      if ("dropped" in made) {
        // On TCP chains a dropped ALLOW rule is Istio's rule for HTTP-only fields, not a mistake.
        if (tcp) return;
        const effect = action === "ALLOW" ? "; the policy allows less until it is fixed" : "";
        warnAbout(opts.warnings, p, `spec.rules[${i}]`, `rule skipped: ${made.dropped}${effect}`);
        return;
      }
      target.policies[rbacPolicyName(namespace, name, i)] = made;
    });
  }
  const out: BuiltRules = {};
  if (hasEnforce) out.rules = enforce;
  if (hasShadow) {
    out.shadow_rules = shadow;
    if (SHADOW_PREFIX[action]) out.shadow_rules_stat_prefix = SHADOW_PREFIX[action];
  }
  return out;
}

/**
 * The RBAC HTTP filters for a workload, to put before the router (and after the JWT filter,
 * whose metadata they read). `policies` may be every config object of the mesh; only the
 * AuthorizationPolicies that apply to the workload are used.
 */
export function authorizationFilters(policies: readonly ConfigObject[], workload: AuthzWorkload, opts: AuthzOptions): HttpFilter[] {
  return byAction(policies, workload, opts).map(({ group, envoy }) => {
    const rbac: HttpRbacAny = { "@type": RBAC_TYPE_URL, ...build(group, envoy, opts, false) };
    return { name: RBAC_FILTER_NAME, typed_config: rbac as unknown as HttpFilter["typed_config"] };
  });
}

/**
 * The network RBAC filters for a workload's inbound TCP chains, to put before the tcp_proxy:
 * the same policies checked once per connection (peer identity, addresses, ports, SNI), with
 * Istio's rule for HTTP-only fields (see RuleContext.tcp). Istio's stat prefix "tcp.".
 */
export function networkAuthorizationFilters(policies: readonly ConfigObject[], workload: AuthzWorkload, opts: AuthzOptions): NetworkFilter[] {
  return byAction(policies, workload, opts).map(({ group, envoy }) => {
    const rbac: NetworkRbacAny = { "@type": NETWORK_RBAC_TYPE_URL, stat_prefix: "tcp.", ...build(group, envoy, { ...opts, warnings: undefined }, true) };
    return { name: NETWORK_RBAC_FILTER_NAME, typed_config: rbac as unknown as NetworkFilter["typed_config"] };
  });
}

/** The workload's policies grouped by action, in Istio's filter order (AUDIT, DENY, ALLOW). */
function byAction(policies: readonly ConfigObject[], workload: AuthzWorkload, opts: AuthzOptions): { group: ConfigObject[]; envoy: RbacAction }[] {
  const mine = policies
    .filter((o) => appliesToWorkload(o, "AuthorizationPolicy", workload, opts.rootNamespace))
    .sort((a, b) => compareText(a.metadata.namespace, b.metadata.namespace) || compareText(a.metadata.name, b.metadata.name));
  const out: { group: ConfigObject[]; envoy: RbacAction }[] = [];
  for (const { istio, envoy } of ACTIONS) {
    const group = mine.filter((o) => (str(o.spec?.action) ?? "ALLOW") === istio);
    if (group.length > 0) out.push({ group, envoy });
  }
  return out;
}
