// envoy.filters.http.cors: a route's CorsPolicy compiled once (origin matchers as closures),
// run per request after the fault filter. Envoy's behaviour:
//  - no Origin header, or the policy is not enabled for this request: nothing happens;
//  - a preflight (OPTIONS + Origin + Access-Control-Request-Method) is answered 200 by the
//    proxy, unless the origin does not match and forward_not_matching_preflights (default
//    true) lets it through to the upstream untouched;
//  - any other request with a matching Origin gets access-control-allow-origin (and
//    allow-credentials, expose-headers) on its response.
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { StringMatcher } from "../../../xds/envoy-types.ts";
import { compileStringMatcher, ConfigInvalid, type StringPredicate } from "../../state/string-match.ts";
import type { RequestLog } from "../request-log.ts";
import { compileFraction, hits } from "./percent.ts";

export const CORS_FILTER_NAME = "envoy.filters.http.cors";
export const CORS_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
export const CORS_POLICY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

export interface CompiledCors {
  /** Share of requests the policy applies to (filter_enabled; 1 when absent). */
  enabledFraction: number;
  originAllowed: (origin: string) => boolean;
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
  forwardNotMatchingPreflights: boolean;
}

/** What the CORS filter decided for one request. */
export type CorsOutcome =
  | { kind: "preflight"; headers: Record<string, string> }
  | { kind: "response"; headers: Record<string, string> };

function text(v: unknown, field: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new ConfigInvalid(field, "must be a string");
  return v;
}

function boolValue(v: unknown, field: string, absent: boolean): boolean {
  if (v === undefined || v === null) return absent;
  const inner = typeof v === "object" ? (v as { value?: unknown }).value : v;
  if (inner === undefined) return false; // a BoolValue holding false decodes as {}
  if (typeof inner !== "boolean") throw new ConfigInvalid(field, "must be a BoolValue {value: true|false}");
  return inner;
}

/** cors.v3.CorsPolicy (object form) -> CompiledCors. */
export function compileCorsPolicy(cfg: Record<string, unknown>, field: string): CompiledCors {
  const rawOrigins = cfg.allow_origin_string_match ?? [];
  if (!Array.isArray(rawOrigins)) throw new ConfigInvalid(`${field}.allow_origin_string_match`, "must be a list of string matchers");
  const matchers: StringPredicate[] = rawOrigins.map((m, i) => compileStringMatcher(m as StringMatcher, `${field}.allow_origin_string_match[${i}]`));
  if (cfg.shadow_enabled !== undefined && cfg.filter_enabled === undefined) {
    throw new ConfigInvalid(`${field}.shadow_enabled`, "shadow-only CORS is not supported by the Mizzen proxy; use filter_enabled");
  }
  const enabled = cfg.filter_enabled as { default_value?: unknown } | undefined;
  return {
    enabledFraction: enabled === undefined ? 1 : compileFraction(enabled.default_value, `${field}.filter_enabled.default_value`),
    // A matcher that accepts "*" itself allows every origin (Envoy's rule).
    originAllowed: (origin) => matchers.some((m) => m("*") || m(origin)),
    allowMethods: text(cfg.allow_methods, `${field}.allow_methods`),
    allowHeaders: text(cfg.allow_headers, `${field}.allow_headers`),
    exposeHeaders: text(cfg.expose_headers, `${field}.expose_headers`),
    maxAge: text(cfg.max_age, `${field}.max_age`),
    allowCredentials: boolValue(cfg.allow_credentials, `${field}.allow_credentials`, false),
    forwardNotMatchingPreflights: boolValue(cfg.forward_not_matching_preflights, `${field}.forward_not_matching_preflights`, true),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(",") : v) ?? "";
}

/** Runs the policy for one request; undefined when the request continues unchanged. */
export function evaluateCors(cors: CompiledCors, method: string, headers: IncomingHttpHeaders, random: () => number): CorsOutcome | undefined {
  const origin = header(headers, "origin");
  if (!origin || !hits(cors.enabledFraction, random)) return undefined;
  const allowed = cors.originAllowed(origin);
  const requestMethod = header(headers, "access-control-request-method");
  if (method === "OPTIONS" && requestMethod) {
    if (!allowed && cors.forwardNotMatchingPreflights) return undefined;
    const h: Record<string, string> = {};
    if (allowed) h["access-control-allow-origin"] = origin;
    if (cors.allowCredentials) h["access-control-allow-credentials"] = "true";
    if (cors.allowMethods) h["access-control-allow-methods"] = cors.allowMethods === "*" ? requestMethod : cors.allowMethods;
    if (cors.allowHeaders) h["access-control-allow-headers"] = cors.allowHeaders === "*" ? header(headers, "access-control-request-headers") : cors.allowHeaders;
    if (cors.maxAge) h["access-control-max-age"] = cors.maxAge;
    return { kind: "preflight", headers: h };
  }
  if (!allowed) return undefined;
  const h: Record<string, string> = { "access-control-allow-origin": origin };
  if (cors.allowCredentials) h["access-control-allow-credentials"] = "true";
  if (cors.exposeHeaders) h["access-control-expose-headers"] = cors.exposeHeaders;
  return { kind: "response", headers: h };
}

/** Answers a preflight at the proxy: 200, no body, the policy's headers. */
export function answerPreflight(res: ServerResponse, log: RequestLog, headers: Record<string, string>): void {
  log.status = 200;
  log.details = "cors_response";
  res.writeHead(200, { ...headers, "content-length": 0 });
  res.end();
}

/** Sets the CORS response headers (overwriting the upstream's, as Envoy does). */
export function addCorsHeaders(target: Record<string, unknown>, headers: Record<string, string> | undefined): void {
  if (headers) for (const [k, v] of Object.entries(headers)) target[k] = v;
}
