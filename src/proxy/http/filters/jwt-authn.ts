// envoy.filters.http.jwt_authn: Envoy's JwtAuthentication compiled once per snapshot and
// checked per request, synchronously (keys are inline; see jwt-keys.ts for why node:crypto).
//
// Requirements follow Envoy's verifier semantics:
// - provider_name: every token found in the provider's locations must verify; none = missing;
// - requires_any: the first child that passes wins; otherwise the most telling failure (a real
//   error over "issuer is not configured" over "missing"), turned into a pass by an
//   allow_missing sibling when that failure is "missing", or always by allow_missing_or_failed;
// - requires_all: every child passes, the first failure stops;
// - allow_missing (alone): tokens of any provider's locations are checked against the provider
//   of their issuer; all must verify (Envoy reports only the last token's result here; Mizzen
//   rejects a request carrying any bad token);
// - no requirement: allow everything.
// Istio's RequestAuthentication is requires_any [provider, allow_missing]: no token passes, a
// bad token is rejected (401, or 403 when only the audience is wrong), and an
// AuthorizationPolicy decides later whether a principal was required.
//
// Before checking, the headers a provider writes (forward_payload_header, claim_to_headers) are
// removed from the request, so a client cannot forge them. A good token removes its header
// unless the provider forwards it (tokens in query parameters and cookies stay, as in Envoy).
import type { IncomingHttpHeaders } from "node:http";
import { ConfigInvalid, compileFullRegex } from "../../state/string-match.ts";
import { ALGORITHMS, verifyJws } from "./jwt-keys.ts";
import { buildExtractor, extractTokens, issuerAllowed, mayHaveToken, RequestView, type Extractor, type FoundToken } from "./jwt-locations.ts";
import { claimHeaderValue, compileProvider, verifiedJwt, type CompiledProvider } from "./jwt-provider.ts";
import { audienceAllowed, checkTime, FAIL, normalizeAudience, parseJwt, type JwtFailure } from "./jwt-token.ts";

export const JWT_AUTHN_FILTER_NAME = "envoy.filters.http.jwt_authn";
export const JWT_AUTHN_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
/** Dynamic metadata namespaces a successful check writes. */
export const ISTIO_AUTHN_METADATA = "istio_authn";
export const JWT_AUTHN_METADATA = JWT_AUTHN_FILTER_NAME;

export type JwtOutcome =
  | { ok: true; metadata?: Record<string, unknown> }
  | { ok: false; status: 401 | 403; reason: string; code: string };

export interface JwtRequest {
  /** Mutable: output headers are set and token headers removed here. */
  headers: IncomingHttpHeaders;
  /** Path with query string. */
  path: string;
  /** Needed only for bypass_cors_preflight. */
  method?: string;
}

type Requirement =
  | { kind: "provider"; provider: CompiledProvider; audiences: ReadonlySet<string> | undefined }
  | { kind: "any"; children: Requirement[]; allowMissing: boolean; allowFailed: boolean }
  | { kind: "all"; children: Requirement[] }
  | { kind: "allow_missing" | "allow_failed" | "allow_all" };

interface CompiledRule {
  matches: (path: string) => boolean;
  requirement: Requirement;
  /** The precomputed answer when the request carries no token at all. */
  noToken: JwtOutcome;
}

export interface CompiledJwtAuthn {
  readonly providers: ReadonlyMap<string, CompiledProvider>;
  readonly rules: readonly CompiledRule[];
  readonly bypassCorsPreflight: boolean;
  /** Envoy's strip_failure_response: answer failures without body and WWW-Authenticate. */
  readonly stripFailureResponse: boolean;
  /** Every provider's locations merged: allow_missing and the no-token fast path use it. */
  readonly allLocations: Extractor;
  /** Output headers removed from each checked request before anything is written. */
  readonly sanitize: readonly string[];
  /** The provider for an issuer, for tokens checked outside a named provider. */
  readonly byIssuer: ReadonlyMap<string, CompiledProvider>;
  readonly anyIssuer: CompiledProvider | undefined;
}

const OK: JwtOutcome = Object.freeze({ ok: true });
const OK_PROMISE = Promise.resolve(OK);
const MAX_DEPTH = 16;

function outcomeOf(f: JwtFailure | null): JwtOutcome {
  return f === null ? OK : Object.freeze({ ok: false, status: f.status, reason: f.reason, code: f.code });
}

function compileRequirement(raw: unknown, field: string, providers: ReadonlyMap<string, CompiledProvider>, depth: number): Requirement {
  if (depth > MAX_DEPTH) throw new ConfigInvalid(field, `requirements nest deeper than ${MAX_DEPTH} levels`);
  if (raw === undefined || raw === null) return { kind: "allow_all" };
  if (typeof raw !== "object") throw new ConfigInvalid(field, "a requirement must be an object");
  const r = raw as Record<string, unknown>;
  const named = (name: unknown, at: string): CompiledProvider => {
    const p = typeof name === "string" ? providers.get(name) : undefined;
    if (!p) throw new ConfigInvalid(at, `provider ${JSON.stringify(name)} is not configured (have: ${[...providers.keys()].join(", ") || "none"})`);
    return p;
  };
  if (r.provider_name !== undefined) return { kind: "provider", provider: named(r.provider_name, `${field}.provider_name`), audiences: undefined };
  if (r.provider_and_audiences !== undefined) {
    const pa = r.provider_and_audiences as { provider_name?: unknown; audiences?: unknown };
    const auds = Array.isArray(pa.audiences) ? pa.audiences.filter((a): a is string => typeof a === "string") : [];
    return { kind: "provider", provider: named(pa.provider_name, `${field}.provider_and_audiences.provider_name`), audiences: auds.length ? new Set(auds.map(normalizeAudience)) : undefined };
  }
  const list = (key: string): unknown[] => {
    const l = (r[key] as { requirements?: unknown } | undefined)?.requirements;
    if (!Array.isArray(l) || l.length === 0) throw new ConfigInvalid(`${field}.${key}.requirements`, "needs at least one requirement");
    return l;
  };
  if (r.requires_any !== undefined) {
    const node = { kind: "any" as const, children: [] as Requirement[], allowMissing: false, allowFailed: false };
    list("requires_any").forEach((c, i) => {
      const child = compileRequirement(c, `${field}.requires_any.requirements[${i}]`, providers, depth + 1);
      if (child.kind === "allow_missing") node.allowMissing = true;
      else if (child.kind === "allow_failed") node.allowFailed = true;
      else node.children.push(child);
    });
    if (node.children.length === 0) node.children.push({ kind: node.allowFailed ? "allow_failed" : "allow_missing" });
    return node;
  }
  if (r.requires_all !== undefined) {
    return { kind: "all", children: list("requires_all").map((c, i) => compileRequirement(c, `${field}.requires_all.requirements[${i}]`, providers, depth + 1)) };
  }
  if (r.allow_missing !== undefined) return { kind: "allow_missing" };
  if (r.allow_missing_or_failed !== undefined) return { kind: "allow_failed" };
  if (Object.keys(r).length === 0) return { kind: "allow_all" };
  throw new ConfigInvalid(field, `unknown requirement ${Object.keys(r).join(", ")}`);
}

function compilePathMatch(m: unknown, field: string): (path: string) => boolean {
  if (!m || typeof m !== "object") throw new ConfigInvalid(field, "a rule needs a match");
  const match = m as Record<string, unknown>;
  for (const k of Object.keys(match)) {
    if (!["prefix", "path", "safe_regex", "case_sensitive"].includes(k) && match[k] !== undefined) {
      throw new ConfigInvalid(`${field}.${k}`, "jwt_authn rules in the Mizzen proxy match on the path only (prefix, path or safe_regex)");
    }
  }
  const cs = (match.case_sensitive as { value?: boolean } | undefined)?.value ?? true;
  const fold = (s: string) => (cs ? s : s.toLowerCase());
  if (typeof match.prefix === "string") {
    const p = fold(match.prefix);
    return p === "" || p === "/" ? () => true : (path) => fold(path).startsWith(p);
  }
  if (typeof match.path === "string") {
    const p = fold(match.path);
    return (path) => fold(path) === p;
  }
  if (match.safe_regex !== undefined) {
    const re = compileFullRegex((match.safe_regex as { regex?: unknown }).regex, `${field}.safe_regex.regex`, !cs);
    return (path) => re.test(path);
  }
  throw new ConfigInvalid(field, "a rule match needs prefix, path or safe_regex");
}

/** What a requirement answers when no location holds a token. */
function withoutTokens(r: Requirement): JwtFailure | null {
  switch (r.kind) {
    case "provider": return FAIL.missing;
    case "all": {
      for (const c of r.children) { const f = withoutTokens(c); if (f) return f; }
      return null;
    }
    case "any": {
      const fails: JwtFailure[] = [];
      for (const c of r.children) { const f = withoutTokens(c); if (!f) return null; fails.push(f); }
      return settleAny(r, fails);
    }
    default: return null;
  }
}

/** JwtAuthentication (object form) -> CompiledJwtAuthn. Throws ConfigInvalid with a field path. */
export function compileJwtAuthn(typedConfig: unknown, field: string): CompiledJwtAuthn {
  if (!typedConfig || typeof typedConfig !== "object") throw new ConfigInvalid(field, "JwtAuthentication config is missing");
  const cfg = typedConfig as Record<string, unknown>;
  if (cfg.filter_state_rules !== undefined) throw new ConfigInvalid(`${field}.filter_state_rules`, "filter_state_rules are not supported; use rules");
  const providers = new Map<string, CompiledProvider>();
  for (const [name, raw] of Object.entries((cfg.providers ?? {}) as Record<string, unknown>)) {
    providers.set(name, compileProvider(name, raw, `${field}.providers["${name}"]`));
  }
  const requirementMap = new Map<string, Requirement>();
  for (const [name, raw] of Object.entries((cfg.requirement_map ?? {}) as Record<string, unknown>)) {
    requirementMap.set(name, compileRequirement(raw, `${field}.requirement_map["${name}"]`, providers, 0));
  }
  const rawRules = cfg.rules === undefined ? [] : cfg.rules;
  if (!Array.isArray(rawRules)) throw new ConfigInvalid(`${field}.rules`, "must be a list");
  const rules = rawRules.map((raw: Record<string, unknown>, i: number): CompiledRule => {
    const at = `${field}.rules[${i}]`;
    let requirement: Requirement;
    if (raw?.requirement_name !== undefined) {
      const named = requirementMap.get(String(raw.requirement_name));
      if (!named) throw new ConfigInvalid(`${at}.requirement_name`, `requirement ${JSON.stringify(raw.requirement_name)} is not in requirement_map`);
      requirement = named;
    } else {
      requirement = compileRequirement(raw?.requires, `${at}.requires`, providers, 0);
    }
    return { matches: compilePathMatch(raw?.match, `${at}.match`), requirement, noToken: outcomeOf(withoutTokens(requirement)) };
  });
  const all = [...providers.values()];
  const byIssuer = new Map<string, CompiledProvider>();
  for (const p of all) if (p.issuer !== "" && !byIssuer.has(p.issuer)) byIssuer.set(p.issuer, p);
  const sanitize = new Set<string>();
  for (const p of all) {
    if (p.payloadHeader) sanitize.add(p.payloadHeader);
    for (const c of p.claimHeaders) sanitize.add(c.header);
  }
  return {
    providers,
    rules,
    bypassCorsPreflight: cfg.bypass_cors_preflight === true,
    stripFailureResponse: cfg.strip_failure_response === true,
    allLocations: buildExtractor(all.map((p) => p.locations)),
    sanitize: [...sanitize],
    byIssuer,
    anyIssuer: all.find((p) => p.issuer === ""),
  };
}

/** Per-request state, created only when a token may be present. */
interface Check {
  filter: CompiledJwtAuthn;
  view: RequestView;
  now: number;
  metadata: Record<string, unknown> | undefined;
}

function settleAny(r: { allowMissing: boolean; allowFailed: boolean }, fails: readonly JwtFailure[]): JwtFailure | null {
  if (r.allowFailed) return null;
  let chosen: JwtFailure = FAIL.missing;
  for (const f of fails) {
    if ((f !== FAIL.missing && f !== FAIL.unknownIssuer) || chosen === FAIL.missing) chosen = f;
  }
  return r.allowMissing && chosen === FAIL.missing ? null : chosen;
}

function applyGood(c: Check, p: CompiledProvider, found: FoundToken, v: ReturnType<typeof verifiedJwt>): void {
  const h = c.view.headers;
  if (p.payloadHeader) {
    const b64 = v.jwt.payloadB64;
    h[p.payloadHeader] = p.padPayloadHeader ? b64 + "=".repeat((4 - (b64.length % 4)) % 4) : b64;
  }
  for (const ch of p.claimHeaders) {
    const value = claimHeaderValue(v.jwt.payload, ch.path);
    if (value !== undefined) h[ch.header] = value;
  }
  if (!p.forward && found.location.kind === "header") delete h[found.location.name];
  const md = (c.metadata ??= {});
  if (md[ISTIO_AUTHN_METADATA] === undefined) md[ISTIO_AUTHN_METADATA] = v.istio;
  if (p.payloadInMetadata || p.headerInMetadata) {
    const jm = (md[JWT_AUTHN_METADATA] ??= {}) as Record<string, unknown>;
    if (p.payloadInMetadata) jm[p.payloadInMetadata] = v.claims;
    if (p.headerInMetadata) jm[p.headerInMetadata] = v.jwt.header;
  }
}

/** One token against one provider (or, when none is named, the provider of its issuer). */
function checkToken(c: Check, found: FoundToken, named: CompiledProvider | undefined, audiences: ReadonlySet<string> | undefined): JwtFailure | null {
  let verified = named?.cache.get(found.token, c.now, named.clockSkewSeconds);
  let jwt = verified?.jwt;
  if (!jwt) {
    const parsed = parseJwt(found.token);
    if ("code" in parsed) return parsed;
    if (!ALGORITHMS[parsed.alg]) return FAIL.algUnsupported;
    jwt = parsed;
  }
  if (!issuerAllowed(found.location, jwt.iss)) return FAIL.unknownIssuer;
  const p = named ?? c.filter.byIssuer.get(jwt.iss) ?? c.filter.anyIssuer;
  if (!p) return FAIL.unknownIssuer;
  if (!named) verified = p.cache.get(found.token, c.now, p.clockSkewSeconds);
  if (p.requireExpiration && jwt.exp === 0) return FAIL.expRequired;
  const late = checkTime(jwt, c.now, p.clockSkewSeconds);
  if (late) return late;
  if (!audienceAllowed(audiences ?? p.audiences, jwt)) return FAIL.audience;
  if (p.subjects && !p.subjects(jwt.sub)) return FAIL.subject;
  if (!verified) {
    if (p.jwks.keys.length === 0) return FAIL.noValidKeys;
    const sig = verifyJws(p.jwks, jwt);
    if (sig === "nokey") return FAIL.noKey;
    if (sig === "bad") return FAIL.signature;
    verified = verifiedJwt(p, jwt);
    p.cache.add(verified);
  }
  applyGood(c, p, found, verified);
  return null;
}

function evaluate(c: Check, r: Requirement): JwtFailure | null {
  switch (r.kind) {
    case "provider": {
      const tokens = extractTokens(r.provider.extractor, c.view);
      if (tokens.length === 0) return FAIL.missing;
      for (const t of tokens) {
        const f = checkToken(c, t, r.provider, r.audiences);
        if (f) return f;
      }
      return null;
    }
    case "any": {
      const fails: JwtFailure[] = [];
      for (const child of r.children) {
        const f = evaluate(c, child);
        if (!f) return null;
        fails.push(f);
      }
      return settleAny(r, fails);
    }
    case "all": {
      for (const child of r.children) { const f = evaluate(c, child); if (f) return f; }
      return null;
    }
    case "allow_missing":
    case "allow_failed": {
      // allow_missing_or_failed still checks every token: good ones write headers and metadata.
      for (const t of extractTokens(c.filter.allLocations, c.view)) {
        const f = checkToken(c, t, undefined, undefined);
        if (f && r.kind === "allow_missing") return f;
      }
      return null;
    }
    case "allow_all":
      return null;
  }
}

function isCorsPreflight(req: JwtRequest): boolean {
  return req.method === "OPTIONS" && req.headers.origin !== undefined && req.headers["access-control-request-method"] !== undefined;
}

function stripQuery(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}

/**
 * Checks a request and applies the filter's header changes. Synchronous: keys are in memory.
 * `nowSeconds` is for tests.
 */
export function verifyRequestSync(filter: CompiledJwtAuthn, req: JwtRequest, nowSeconds = Math.floor(Date.now() / 1000)): JwtOutcome {
  if (filter.rules.length === 0) return OK;
  if (filter.bypassCorsPreflight && isCorsPreflight(req)) return OK;
  const path = stripQuery(req.path);
  let rule: CompiledRule | undefined;
  for (const r of filter.rules) if (r.matches(path)) { rule = r; break; }
  if (!rule) return OK;
  const h = req.headers;
  for (const name of filter.sanitize) if (h[name] !== undefined) delete h[name];
  if (!mayHaveToken(filter.allLocations, h, req.path)) return rule.noToken;
  const c: Check = { filter, view: new RequestView(h, req.path), now: nowSeconds, metadata: undefined };
  const f = evaluate(c, rule.requirement);
  if (f) return outcomeOf(f);
  return c.metadata ? { ok: true, metadata: c.metadata } : OK;
}

/** The same as verifyRequestSync, as a promise; a request without a token reuses one resolved promise. */
export function verifyRequest(filter: CompiledJwtAuthn, req: JwtRequest): Promise<JwtOutcome> {
  const out = verifyRequestSync(filter, req);
  return out === OK ? OK_PROMISE : Promise.resolve(out);
}

/** Envoy's WWW-Authenticate for a failure: the realm is the request URL. */
export function wwwAuthenticate(outcome: JwtOutcome, url: string): string | undefined {
  if (outcome.ok) return undefined;
  return `Bearer realm="${url.replace(/["\\]/g, "")}"${outcome.code === "JwtMissed" ? "" : ', error="invalid_token"'}`;
}
