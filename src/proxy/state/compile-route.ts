// One Envoy Route -> CompiledRoute: the match becomes one closure (path test first, the
// cheapest, then headers and query parameters), the action has its data precomputed.
import type { HeaderMatcher, QueryParameterMatcher, Route, RouteMatch } from "../../xds/envoy-types.ts";
import type { CompiledRoute, CompiledRetryPolicy, MatchInput, RouteAction, ClusterChoice, CompiledMirror } from "./types.ts";
import { compileFullRegex, compileStringMatcher, ConfigInvalid, durationMs } from "./string-match.ts";
import { compileRetryPolicy } from "./compile-retry.ts";
import { compileHeaderOps } from "./compile-headers.ts";
import { compileRouteFilterConfigs, mergeRouteFilterConfigs, NO_ROUTE_FILTERS, type RouteFilterConfigs } from "../http/filters/http-filters.ts";
import { compileFraction } from "../http/filters/percent.ts";
import { compileHashPolicies } from "./compile-hash-policy.ts";

type Pred = (input: MatchInput) => boolean;

/** Envoy's route timeout when none is given. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

function headerValue(input: MatchInput, name: string): string | undefined {
  switch (name) {
    case ":method": return input.method;
    case ":authority": return input.authority;
    case ":path": return input.query ? `${input.path}?${input.query}` : input.path;
    case ":scheme": return "http";
    default: {
      const v = input.headers[name];
      return Array.isArray(v) ? v.join(",") : v;
    }
  }
}

function compileHeaderMatcher(h: HeaderMatcher, field: string): Pred {
  const name = String(h?.name ?? "").toLowerCase();
  if (!name) throw new ConfigInvalid(`${field}.name`, "header matcher needs a name");
  const invert = h.invert_match === true;
  if (h.string_match) {
    const test = compileStringMatcher(h.string_match, `${field}.string_match`);
    // An absent header never matches a string matcher, inverted or not (Envoy's rule),
    // unless treat_missing_header_as_empty says to match it as "".
    const missing = h.treat_missing_header_as_empty === true ? test("") !== invert : false;
    return (input) => {
      const v = headerValue(input, name);
      return v === undefined ? missing : test(v) !== invert;
    };
  }
  const wantPresent = h.present_match ?? true; // a bare name means "present"
  return (input) => ((headerValue(input, name) !== undefined) === wantPresent) !== invert;
}

function compileQueryMatcher(q: QueryParameterMatcher, field: string): Pred {
  const name = String(q?.name ?? "");
  if (!name) throw new ConfigInvalid(`${field}.name`, "query parameter matcher needs a name");
  const test = q.string_match ? compileStringMatcher(q.string_match, `${field}.string_match`) : undefined;
  return (input) => {
    if (input.queryParams === undefined) input.queryParams = new URLSearchParams(input.query);
    const v = input.queryParams.get(name);
    if (v === null) return q.present_match === false;
    return test ? test(v) : q.present_match !== false;
  };
}

interface PathMatch { test: Pred; rewrite: ((path: string, to: string) => string) | undefined }

function compilePathMatch(m: RouteMatch, field: string): PathMatch {
  const cs = m.case_sensitive?.value ?? true;
  const specs = [m.prefix !== undefined, m.path !== undefined, m.safe_regex !== undefined].filter(Boolean).length;
  if (specs !== 1) throw new ConfigInvalid(field, "a route match needs exactly one of prefix, path, safe_regex");
  if (m.prefix !== undefined) {
    const p = cs ? String(m.prefix) : String(m.prefix).toLowerCase();
    const n = p.length;
    return {
      test: n === 0 || p === "/" ? () => true : cs ? (i) => i.path.startsWith(p) : (i) => i.path.toLowerCase().startsWith(p),
      rewrite: (path, to) => to + path.slice(n),
    };
  }
  if (m.path !== undefined) {
    const p = cs ? String(m.path) : String(m.path).toLowerCase();
    return { test: cs ? (i) => i.path === p : (i) => i.path.toLowerCase() === p, rewrite: (_path, to) => to };
  }
  const re = compileFullRegex(m.safe_regex?.regex, `${field}.safe_regex.regex`);
  return { test: (i) => re.test(i.path), rewrite: (_path, to) => to };
}

function compileMatch(m: RouteMatch | undefined, field: string): PathMatch {
  if (!m || typeof m !== "object") throw new ConfigInvalid(field, "route needs a match");
  const path = compilePathMatch(m, field);
  const preds: Pred[] = [];
  (m.headers ?? []).forEach((h, i) => preds.push(compileHeaderMatcher(h, `${field}.headers[${i}]`)));
  (m.query_parameters ?? []).forEach((q, i) => preds.push(compileQueryMatcher(q, `${field}.query_parameters[${i}]`)));
  if (preds.length === 0) return path;
  const pathTest = path.test;
  return {
    rewrite: path.rewrite,
    test: (input) => {
      if (!pathTest(input)) return false;
      for (let i = 0; i < preds.length; i++) if (!preds[i](input)) return false;
      return true;
    },
  };
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};

function compileAction(r: Route, match: PathMatch, field: string, vhostRetry: CompiledRetryPolicy | undefined): RouteAction {
  const kinds = [r.route, r.redirect, r.direct_response].filter((x) => x !== undefined && x !== null).length;
  if (kinds !== 1) throw new ConfigInvalid(field, "a route needs exactly one of route, redirect, direct_response");
  if (r.direct_response) {
    const status = Number(r.direct_response.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new ConfigInvalid(`${field}.direct_response.status`, `${String(r.direct_response.status)} is not a valid status (200-599)`);
    return { kind: "direct", status, body: Buffer.from(r.direct_response.body?.inline_string ?? "") };
  }
  if (r.redirect) {
    const rd = r.redirect;
    const status = REDIRECT_CODES[rd.response_code ?? "MOVED_PERMANENTLY"];
    if (!status) throw new ConfigInvalid(`${field}.redirect.response_code`, `unknown code ${String(rd.response_code)}`);
    const scheme = rd.https_redirect ? "https" : rd.scheme_redirect;
    const rewrite = match.rewrite;
    return {
      kind: "redirect",
      status,
      location: (input) => {
        let host = rd.host_redirect ?? input.authority;
        if (rd.port_redirect) {
          const bare = host.replace(/:\d+$/, "");
          // A scheme's default port is left out of the Location, as browsers and Envoy do.
          host = rd.port_redirect === DEFAULT_PORT[scheme ?? "http"] ? bare : `${bare}:${rd.port_redirect}`;
        }
        let path = input.path;
        if (rd.path_redirect !== undefined) path = rd.path_redirect;
        else if (rd.prefix_rewrite !== undefined && rewrite) path = rewrite(input.path, rd.prefix_rewrite);
        const q = input.query && rd.path_redirect === undefined ? `?${input.query}` : "";
        return `${scheme ?? "http"}://${host}${path}${q}`;
      },
    };
  }
  const a = r.route!;
  const clusters: ClusterChoice[] = [];
  if (a.cluster !== undefined && a.weighted_clusters !== undefined) throw new ConfigInvalid(`${field}.route`, "cluster and weighted_clusters are exclusive");
  if (a.cluster !== undefined) {
    if (!a.cluster) throw new ConfigInvalid(`${field}.route.cluster`, "cluster name is empty");
    clusters.push({ cluster: a.cluster, weight: 1, requestHeaders: undefined });
  } else if (a.weighted_clusters !== undefined) {
    const list = a.weighted_clusters?.clusters ?? [];
    if (list.length === 0) throw new ConfigInvalid(`${field}.route.weighted_clusters`, "weighted_clusters has no clusters");
    list.forEach((c, i) => {
      const f = `${field}.route.weighted_clusters.clusters[${i}]`;
      if (!c?.name) throw new ConfigInvalid(`${f}.name`, "cluster name is empty");
      const w = Number(c.weight?.value ?? 0);
      if (!Number.isInteger(w) || w < 0) throw new ConfigInvalid(`${f}.weight`, "weight must be a non-negative integer");
      clusters.push({ cluster: c.name, weight: w, requestHeaders: compileHeaderOps(c.request_headers_to_add, undefined, `${f}.request_headers`) });
    });
  } else {
    throw new ConfigInvalid(`${field}.route`, "route action needs cluster or weighted_clusters (cluster_header is not supported)");
  }
  const totalWeight = clusters.reduce((s, c) => s + c.weight, 0);
  if (totalWeight <= 0) throw new ConfigInvalid(`${field}.route.weighted_clusters`, "total weight must be greater than 0");
  const timeout = durationMs(a.timeout, `${field}.route.timeout`);
  const to = a.prefix_rewrite;
  const rewrite = match.rewrite;
  const regexRewrite = a.regex_rewrite ? compileRegexRewrite(a.regex_rewrite, `${field}.route.regex_rewrite`) : undefined;
  if (regexRewrite && to !== undefined) throw new ConfigInvalid(`${field}.route`, "prefix_rewrite and regex_rewrite are exclusive");
  return {
    kind: "route",
    clusters,
    totalWeight,
    timeoutMs: timeout === undefined ? DEFAULT_ROUTE_TIMEOUT_MS : timeout,
    retry: compileRetryPolicy(a.retry_policy, `${field}.route.retry_policy`) ?? vhostRetry,
    rewritePath: regexRewrite ?? (to !== undefined && rewrite ? (path) => rewrite(path, to) : undefined),
    hostRewrite: a.host_rewrite_literal || undefined,
    mirrors: compileMirrors(a.request_mirror_policies, `${field}.route.request_mirror_policies`),
    hashPolicies: compileHashPolicies(a.hash_policy, `${field}.route.hash_policy`),
  };
}

const NO_MIRRORS: readonly CompiledMirror[] = [];

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** Envoy's regex_rewrite: every match in the path (not the query) replaced; \N names group N. */
function compileRegexRewrite(r: { pattern?: { regex?: string }; substitution?: string }, field: string): (path: string) => string {
  const source = r.pattern?.regex;
  if (typeof source !== "string" || source === "") throw new ConfigInvalid(`${field}.pattern.regex`, "the pattern is empty");
  let re: RegExp;
  try {
    re = new RegExp(source, "g");
  } catch (err) {
    throw new ConfigInvalid(`${field}.pattern.regex`, `invalid regex ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  // RE2 / Envoy write groups as \1; JavaScript's replace wants $1 (and a literal $ as $$).
  const substitution = String(r.substitution ?? "").replace(/\$/g, "$$$$").replace(/\\(\d)/g, "$$$1");
  return (path) => path.replace(re, substitution);
}

/** request_mirror_policies -> {cluster, fraction}; no runtime_fraction means every request (Envoy's default). */
function compileMirrors(list: unknown, field: string): readonly CompiledMirror[] {
  if (list === undefined || list === null) return NO_MIRRORS;
  if (!Array.isArray(list)) throw new ConfigInvalid(field, "must be a list");
  if (list.length === 0) return NO_MIRRORS;
  return list.map((m: { cluster?: unknown; runtime_fraction?: { default_value?: unknown } } | null, i) => {
    const f = `${field}[${i}]`;
    const cluster = typeof m?.cluster === "string" ? m.cluster : "";
    if (!cluster) throw new ConfigInvalid(`${f}.cluster`, "mirror cluster name is empty (cluster_header is not supported)");
    const rf = m?.runtime_fraction;
    const fraction = rf === undefined || rf === null ? 1 : compileFraction(rf.default_value, `${f}.runtime_fraction.default_value`);
    return { cluster, fraction };
  });
}

export function compileRoute(r: Route, field: string, vhostRetry: CompiledRetryPolicy | undefined, vhostFilters: RouteFilterConfigs = NO_ROUTE_FILTERS): CompiledRoute {
  if (!r || typeof r !== "object") throw new ConfigInvalid(field, "route must be an object");
  const match = compileMatch(r.match, `${field}.match`);
  return {
    name: r.name || "-",
    matches: match.test,
    action: compileAction(r, match, field, vhostRetry),
    requestHeaders: compileHeaderOps(r.request_headers_to_add, r.request_headers_to_remove, `${field}.request_headers`),
    responseHeaders: compileHeaderOps(r.response_headers_to_add, r.response_headers_to_remove, `${field}.response_headers`),
    filters: mergeRouteFilterConfigs(compileRouteFilterConfigs(r.typed_per_filter_config, `${field}.typed_per_filter_config`), vhostFilters),
  };
}
