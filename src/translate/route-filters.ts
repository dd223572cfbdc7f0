// VirtualService `fault` and `corsPolicy` -> per-route filter configs (Route.typed_per_filter_config),
// and the two HTTP filters that read them, as Istio generates them for a sidecar: the HCM
// lists envoy.filters.http.fault then envoy.filters.http.cors before the router, each with an
// empty config, and each route carries its own HTTPFault / CorsPolicy keyed by filter name.
import type { ConfigObject } from "../api/types.ts";
import type { HttpConnectionManager, Route, StringMatcher } from "../xds/envoy-types.ts";
import { bool, num, obj, objs, str, strs, type Obj } from "../registry/read-spec.ts";
import { msToDuration, parseDurationMs } from "./duration.ts";
import { warnAbout, type WarningSink } from "./input.ts";
import { stringMatcher } from "./route-match.ts";

export const FAULT_FILTER = "envoy.filters.http.fault";
export const CORS_FILTER = "envoy.filters.http.cors";
export const FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
export const CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
export const CORS_POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

type HttpFilter = HttpConnectionManager["http_filters"][number];
type FilterConfig = NonNullable<Route["typed_per_filter_config"]>[string];

/** The fault and CORS filters with empty configs; the routes say what each does. Put before the router. */
export function routeConfiguredFilters(): HttpFilter[] {
  return [
    { name: FAULT_FILTER, typed_config: { "@type": FAULT_TYPE } },
    { name: CORS_FILTER, typed_config: { "@type": CORS_TYPE } },
  ];
}

/** gRPC status code names (Istio's `grpcStatus`) -> numbers. */
export const GRPC_STATUS: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
  ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10,
  OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/**
 * Istio percentage (0-100, a double) -> Envoy FractionalPercent per million, as Istio does
 * (value * 10000). Rounded rather than truncated, so 57.3% is 573000, not 572999.
 */
function perMillion(value: number): { numerator: number; denominator: "MILLION" } {
  const clamped = Math.min(100, Math.max(0, value));
  return { numerator: Math.round(clamped * 10_000), denominator: "MILLION" };
}

/** `percentage.value`, else the deprecated integer `percent`; neither means 0 (no request), Istio's rule. */
function faultPercent(f: Obj): { numerator: number; denominator: "MILLION" } {
  const value = num(obj(f.percentage)?.value);
  if (value !== undefined) return perMillion(value);
  return perMillion(num(f.percent) ?? 0);
}

/** Istio HTTPFaultInjection -> Envoy HTTPFault; undefined when nothing usable remains (with a warning). */
export function faultConfig(fault: Obj, vs: ConfigObject, field: string, warnings?: WarningSink): FilterConfig | undefined {
  const out: FilterConfig = { "@type": FAULT_TYPE };
  const delay = obj(fault.delay);
  if (delay) {
    const ms = parseDurationMs(delay.fixedDelay);
    if (ms === undefined || ms <= 0) {
      warnAbout(warnings, vs, `${field}.delay`, "only a positive fixedDelay is supported (exponentialDelay is not); the delay is left out");
    } else {
      out.delay = { fixed_delay: msToDuration(ms), percentage: faultPercent(delay) };
    }
  }
  const abort = obj(fault.abort);
  if (abort) {
    const httpStatus = num(abort.httpStatus);
    const grpcName = str(abort.grpcStatus);
    if (httpStatus !== undefined) {
      out.abort = { http_status: httpStatus, percentage: faultPercent(abort) };
    } else if (grpcName !== undefined && GRPC_STATUS[grpcName.toUpperCase()] !== undefined) {
      out.abort = { grpc_status: GRPC_STATUS[grpcName.toUpperCase()], percentage: faultPercent(abort) };
    } else if (grpcName !== undefined) {
      warnAbout(warnings, vs, `${field}.abort.grpcStatus`, `"${grpcName}" is not a gRPC status name; use one of ${Object.keys(GRPC_STATUS).join(", ")}. The abort is left out`);
    } else {
      warnAbout(warnings, vs, `${field}.abort`, "only httpStatus and grpcStatus aborts are supported (http2Error is not); the abort is left out");
    }
  }
  return out.delay || out.abort ? out : undefined;
}

/** Istio CorsPolicy -> Envoy cors.v3.CorsPolicy, the fields Istio sets. */
export function corsConfig(cors: Obj): FilterConfig {
  const origins: StringMatcher[] = [];
  const allowOrigins = objs(cors.allowOrigins);
  if (allowOrigins.length) {
    for (const o of allowOrigins) {
      const m = stringMatcher(o);
      if (m) origins.push(m);
    }
  } else {
    for (const exact of strs(cors.allowOrigin)) origins.push({ exact }); // deprecated form
  }
  const out: FilterConfig = {
    "@type": CORS_POLICY_TYPE,
    allow_origin_string_match: origins,
    filter_enabled: { default_value: { numerator: 100, denominator: "HUNDRED" } },
    // Envoy forwards preflights whose origin does not match unless told otherwise.
    forward_not_matching_preflights: { value: str(cors.unmatchedPreflights) !== "IGNORE" },
  };
  const methods = strs(cors.allowMethods), headers = strs(cors.allowHeaders), expose = strs(cors.exposeHeaders);
  if (methods.length) out.allow_methods = methods.join(",");
  if (headers.length) out.allow_headers = headers.join(",");
  if (expose.length) out.expose_headers = expose.join(",");
  const maxAgeMs = parseDurationMs(cors.maxAge);
  if (maxAgeMs !== undefined) out.max_age = String(Math.floor(maxAgeMs / 1000));
  const credentials = bool(cors.allowCredentials);
  if (credentials !== undefined) out.allow_credentials = { value: credentials };
  return out;
}

/**
 * Sets a route's typed_per_filter_config from an HTTP rule's fault and corsPolicy. Proxyless
 * gRPC clients get neither (their listeners carry only the router); they are warned about.
 */
export function applyRouteFilters(r: Route, rule: Obj, vs: ConfigObject, field: string, grpc: boolean, warnings?: WarningSink): void {
  const fault = obj(rule.fault), cors = obj(rule.corsPolicy);
  if (!fault && !cors) return;
  if (grpc) {
    warnAbout(warnings, vs, field, "fault and corsPolicy are not applied for proxyless gRPC clients; the route is kept without them");
    return;
  }
  const configs: Record<string, FilterConfig> = {};
  const faultCfg = fault && faultConfig(fault, vs, `${field}.fault`, warnings);
  if (faultCfg) configs[FAULT_FILTER] = faultCfg;
  if (cors) configs[CORS_FILTER] = corsConfig(cors);
  if (Object.keys(configs).length) r.typed_per_filter_config = configs;
}
