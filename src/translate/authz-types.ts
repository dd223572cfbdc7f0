// The object form (snake_case, as envoy-types.ts) of Envoy's RBAC HTTP filter config and the
// envoy.config.rbac.v3 Policy / Permission / Principal trees that the AuthorizationPolicy
// translator emits. Only the members Mizzen produces are typed; field meanings are Envoy's
// (envoy/config/rbac/v3/rbac.proto, envoy/type/matcher/v3/{metadata,value}.proto).
import type { HeaderMatcher, StringMatcher } from "../xds/envoy-types.ts";

export const RBAC_FILTER_NAME = "envoy.filters.http.rbac";
export const RBAC_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
/** The dynamic-metadata namespace the JWT filter fills and RBAC metadata matchers read. */
export const AUTHN_FILTER = "istio_authn";

export interface CidrRange { address_prefix: string; prefix_len: { value: number } }

export interface ValueMatcher {
  string_match?: StringMatcher;
  list_match?: { one_of: ValueMatcher };
  present_match?: boolean;
}

export interface MetadataMatcher {
  filter: string;
  path: { key: string }[];
  value: ValueMatcher;
}

export interface Permission {
  and_rules?: { rules: Permission[] };
  or_rules?: { rules: Permission[] };
  any?: true;
  header?: HeaderMatcher;
  url_path?: { path: StringMatcher };
  destination_ip?: CidrRange;
  destination_port?: number;
  metadata?: MetadataMatcher;
  not_rule?: Permission;
  requested_server_name?: StringMatcher;
}

export interface Principal {
  and_ids?: { ids: Principal[] };
  or_ids?: { ids: Principal[] };
  any?: true;
  authenticated?: { principal_name?: StringMatcher };
  direct_remote_ip?: CidrRange;
  remote_ip?: CidrRange;
  header?: HeaderMatcher;
  metadata?: MetadataMatcher;
  not_id?: Principal;
}

export interface RbacPolicy { permissions: Permission[]; principals: Principal[] }

export type RbacAction = "ALLOW" | "DENY" | "LOG";

export interface RbacRules { action: RbacAction; policies: Record<string, RbacPolicy> }

/** envoy.extensions.filters.http.rbac.v3.RBAC as an Any. */
export interface HttpRbacAny {
  "@type": typeof RBAC_TYPE_URL;
  rules?: RbacRules;
  shadow_rules?: RbacRules;
  shadow_rules_stat_prefix?: string;
}

export const NETWORK_RBAC_FILTER_NAME = "envoy.filters.network.rbac";
export const NETWORK_RBAC_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

/** envoy.extensions.filters.network.rbac.v3.RBAC as an Any: the same rules, checked once per connection. */
export interface NetworkRbacAny {
  "@type": typeof NETWORK_RBAC_TYPE_URL;
  stat_prefix: string;
  rules?: RbacRules;
  shadow_rules?: RbacRules;
  shadow_rules_stat_prefix?: string;
}
