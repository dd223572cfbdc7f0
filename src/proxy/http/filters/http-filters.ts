// The HTTP filters the proxy can run besides the router, and how their configs are compiled:
// the HCM's filter list (which filters run on a listener) and a route's or virtual host's
// typed_per_filter_config (what they do there). A config names its filter by the "@type" of
// its Any, as Envoy resolves factories; anything else is refused unless marked optional.
import { ConfigInvalid } from "../../state/string-match.ts";
import { compileFault, FAULT_FILTER_NAME, FAULT_TYPE_URL, type CompiledFault } from "./fault.ts";
import { compileJwtAuthn, JWT_AUTHN_FILTER_NAME, JWT_AUTHN_TYPE_URL, type CompiledJwtAuthn } from "./jwt-authn.ts";
import { compileRbac, RBAC_FILTER_NAME, RBAC_TYPE_URL, type CompiledRbac } from "./rbac.ts";
import { compileCorsPolicy, CORS_FILTER_NAME, CORS_POLICY_TYPE_URL, CORS_TYPE_URL, type CompiledCors } from "./cors.ts";
import { compileStatsConfig, isStatsFilter, type CompiledStatsConfig } from "../../telemetry/stats-config.ts";

type AnyConfig = { "@type"?: string } & Record<string, unknown>;

/** Filters of one HTTP connection manager, in Envoy's decode order: JWT, RBAC, fault, CORS, router. */
export interface HcmFilters {
  /** RequestAuthentication (envoy.filters.http.jwt_authn); undefined when the HCM has none. */
  jwt?: CompiledJwtAuthn | undefined;
  /** AuthorizationPolicy (envoy.filters.http.rbac), in filter order; empty when none. */
  rbac?: CompiledRbac[];
  fault: boolean;
  cors: boolean;
  /** The fault filter's own config: used by routes without a per-route HTTPFault. */
  defaultFault: CompiledFault | undefined;
  /** istio.stats: Telemetry metric overrides for this connection manager; absent = Istio's defaults. */
  stats?: CompiledStatsConfig;
}

/** Per-route (or per-virtual-host) filter configs; undefined where the route sets none. */
export interface RouteFilterConfigs {
  fault: CompiledFault | undefined;
  cors: CompiledCors | undefined;
}

export const NO_ROUTE_FILTERS: RouteFilterConfigs = Object.freeze({ fault: undefined, cors: undefined });

const FILTER_CONFIG_TYPE_URL = "type.googleapis.com/envoy.config.route.v3.FilterConfig";

/**
 * Records an HCM http_filters entry that is fault or CORS; returns false for any other filter
 * (the caller decides whether that is an error).
 */
export function addHcmFilter(filters: HcmFilters, f: { name?: string; typed_config?: AnyConfig }, field: string): boolean {
  const type = f.typed_config?.["@type"];
  if (type === JWT_AUTHN_TYPE_URL || (type === undefined && f.name === JWT_AUTHN_FILTER_NAME)) {
    filters.jwt = compileJwtAuthn(f.typed_config, `${field}.typed_config`);
    return true;
  }
  if (type === RBAC_TYPE_URL || (type === undefined && f.name === RBAC_FILTER_NAME)) {
    (filters.rbac ??= []).push(compileRbac(f.typed_config, `${field}.typed_config`));
    return true;
  }
  if (type === FAULT_TYPE_URL || (type === undefined && f.name === FAULT_FILTER_NAME)) {
    filters.fault = true;
    filters.defaultFault = compileFault(f.typed_config, `${field}.typed_config`);
    return true;
  }
  if (type === CORS_TYPE_URL || (type === undefined && f.name === CORS_FILTER_NAME)) {
    filters.cors = true;
    return true;
  }
  if (isStatsFilter(f)) {
    filters.stats = compileStatsConfig(f.typed_config, `${field}.typed_config`);
    return true;
  }
  return false;
}

/** typed_per_filter_config -> compiled closures. Throws ConfigInvalid for a config we cannot honour. */
export function compileRouteFilterConfigs(map: Record<string, AnyConfig> | undefined, field: string): RouteFilterConfigs {
  if (map === undefined || map === null) return NO_ROUTE_FILTERS;
  if (typeof map !== "object") throw new ConfigInvalid(field, "must be a map of filter name to config");
  const out: RouteFilterConfigs = { fault: undefined, cors: undefined };
  for (const [name, raw] of Object.entries(map)) {
    const f = `${field}["${name}"]`;
    let cfg = raw;
    let optional = false;
    if (cfg?.["@type"] === FILTER_CONFIG_TYPE_URL) {
      optional = cfg.is_optional === true;
      if (cfg.disabled === true) continue; // the filter is off for this route
      cfg = (cfg.config ?? {}) as AnyConfig;
    }
    const type = cfg?.["@type"];
    if (type === FAULT_TYPE_URL) out.fault = compileFault(cfg, f);
    else if (type === CORS_POLICY_TYPE_URL) out.cors = compileCorsPolicy(cfg, f);
    else if (!optional) throw new ConfigInvalid(f, `per-filter config of type "${String(type)}" is not supported by the Mizzen proxy (supported: HTTPFault, CorsPolicy; or wrap it in an optional FilterConfig)`);
  }
  return out;
}

/** A route's configs over its virtual host's: each filter takes the most specific one. */
export function mergeRouteFilterConfigs(route: RouteFilterConfigs, vhost: RouteFilterConfigs): RouteFilterConfigs {
  if (vhost === NO_ROUTE_FILTERS) return route;
  return { fault: route.fault ?? vhost.fault, cors: route.cors ?? vhost.cors };
}
