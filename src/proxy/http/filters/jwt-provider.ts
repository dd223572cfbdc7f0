// One jwt_authn JwtProvider compiled: its keys, checks, token locations, what a good token
// writes (headers, metadata), and a small cache of tokens whose signature already verified.
import { ConfigInvalid, compileStringMatcher, type StringPredicate } from "../../state/string-match.ts";
import { HTTP_TOKEN } from "../http-token.ts";
import { compileJwks, type CompiledJwks } from "./jwt-keys.ts";
import { normalizeAudience, type ParsedJwt } from "./jwt-token.ts";
import { buildExtractor, type Extractor, type ProviderLocations } from "./jwt-locations.ts";

/** Envoy's default clock skew for exp and nbf. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/** Envoy's default jwt_cache_size. */
export const DEFAULT_TOKEN_CACHE_SIZE = 100;
/** Longer tokens are verified every time rather than held in memory. */
const MAX_CACHED_TOKEN_LENGTH = 16 * 1024;

/** What the RBAC filter reads (Istio's request.auth.* attributes), per verified token. */
export interface IstioAuthn {
  readonly "request.auth.principal": string;
  readonly "request.auth.audiences": readonly string[];
  readonly "request.auth.presenter": string;
  readonly "request.auth.claims": Readonly<Record<string, unknown>>;
}

/** A token that verified with this provider's keys, and what it yields. */
export interface VerifiedJwt {
  readonly jwt: ParsedJwt;
  /** The payload with space-delimited claims split into lists (normalize_payload_in_metadata). */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly istio: IstioAuthn;
}

export interface ClaimHeader {
  readonly header: string;
  /** The claim name split at "." (Envoy reads nested claims that way). */
  readonly path: readonly string[];
}

export interface CompiledProvider {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: ReadonlySet<string> | undefined;
  readonly subjects: StringPredicate | undefined;
  readonly requireExpiration: boolean;
  readonly clockSkewSeconds: number;
  readonly jwks: CompiledJwks;
  readonly forward: boolean;
  readonly payloadHeader: string | undefined;
  readonly padPayloadHeader: boolean;
  readonly payloadInMetadata: string | undefined;
  readonly headerInMetadata: string | undefined;
  readonly spaceDelimitedClaims: readonly string[];
  readonly claimHeaders: readonly ClaimHeader[];
  readonly locations: ProviderLocations;
  /** This provider's locations alone (a provider_name requirement reads only these). */
  readonly extractor: Extractor;
  readonly cache: TokenCache;
}

// Fields Mizzen honours; anything else set in a provider is refused rather than ignored.
const SUPPORTED = new Set([
  "issuer", "audiences", "subjects", "require_expiration", "local_jwks", "forward", "from_headers", "from_params", "from_cookies",
  "forward_payload_header", "pad_forward_payload_header", "payload_in_metadata", "normalize_payload_in_metadata",
  "header_in_metadata", "clock_skew_seconds", "jwt_cache_config", "claim_to_headers", "clear_route_cache",
]);
const HINTS: Record<string, string> = {
  remote_jwks: "the Mizzen proxy does not fetch keys; the control plane inlines them as local_jwks (as istiod does by default)",
  max_lifetime: "max_lifetime is not supported",
  failed_status_in_metadata: "failed_status_in_metadata is not supported",
};

function headerName(v: unknown, field: string): string {
  if (typeof v !== "string" || !HTTP_TOKEN.test(v)) throw new ConfigInvalid(field, `${JSON.stringify(v)} is not a valid HTTP header name`);
  return v.toLowerCase();
}

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigInvalid(field, "must be a list of strings");
  return v.map((s, i) => {
    if (typeof s !== "string" || s === "") throw new ConfigInvalid(`${field}[${i}]`, "must be a non-empty string");
    return s;
  });
}

function optionalName(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new ConfigInvalid(field, "must be a string");
  return v;
}

function jwksText(src: unknown, field: string): string {
  const s = src as { inline_string?: unknown; inline_bytes?: unknown; filename?: unknown; environment_variable?: unknown } | undefined;
  if (!s || typeof s !== "object") throw new ConfigInvalid(field, "local_jwks is required (inline_string with the JSON Web Key Set)");
  if (typeof s.inline_string === "string") return s.inline_string;
  if (typeof s.inline_bytes === "string") return Buffer.from(s.inline_bytes, "base64").toString("utf8");
  if (s.filename !== undefined || s.environment_variable !== undefined) throw new ConfigInvalid(field, "local_jwks must be inline (inline_string or inline_bytes); the Mizzen proxy reads no files or environment for keys");
  throw new ConfigInvalid(field, "local_jwks needs inline_string");
}

export function compileProvider(name: string, raw: unknown, field: string, compileKeys: (text: string, field: string) => CompiledJwks = compileJwks): CompiledProvider {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigInvalid(field, "a provider must be an object");
  const p = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(p)) {
    if (SUPPORTED.has(k) || v === undefined || v === null || v === false || v === "") continue;
    throw new ConfigInvalid(`${field}.${k}`, HINTS[k] ?? `${k} is not supported by the Mizzen proxy's jwt_authn filter`);
  }
  if (p.clear_route_cache === true) throw new ConfigInvalid(`${field}.clear_route_cache`, "clear_route_cache is not supported: the Mizzen proxy picks the route before JWT claims are known");
  const issuer = optionalName(p.issuer, `${field}.issuer`) ?? "";
  const audiences = stringList(p.audiences, `${field}.audiences`);
  const fromHeaders = (Array.isArray(p.from_headers) ? p.from_headers : p.from_headers === undefined ? [] : null);
  if (fromHeaders === null) throw new ConfigInvalid(`${field}.from_headers`, "must be a list");
  const headers = fromHeaders.map((h: { name?: unknown; value_prefix?: unknown }, i: number) => {
    const prefix = h?.value_prefix ?? "";
    if (typeof prefix !== "string" || /[\r\n\0]/.test(prefix)) throw new ConfigInvalid(`${field}.from_headers[${i}].value_prefix`, "must be a header value (no CR, LF or NUL)");
    return { name: headerName(h?.name, `${field}.from_headers[${i}].name`), prefix };
  });
  const skew = p.clock_skew_seconds === undefined ? 0 : Number(p.clock_skew_seconds);
  if (!Number.isInteger(skew) || skew < 0) throw new ConfigInvalid(`${field}.clock_skew_seconds`, "must be a whole number of seconds");
  const cacheSize = Number((p.jwt_cache_config as { jwt_cache_size?: unknown } | undefined)?.jwt_cache_size ?? 0);
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new ConfigInvalid(`${field}.jwt_cache_config.jwt_cache_size`, "must be a whole number");
  const claimHeaders = (Array.isArray(p.claim_to_headers) ? p.claim_to_headers : []).map((c: { header_name?: unknown; claim_name?: unknown }, i: number) => {
    const claim = c?.claim_name;
    if (typeof claim !== "string" || claim === "") throw new ConfigInvalid(`${field}.claim_to_headers[${i}].claim_name`, "must name a claim");
    return { header: headerName(c?.header_name, `${field}.claim_to_headers[${i}].header_name`), path: claim.split(".") };
  });
  const payloadHeader = p.forward_payload_header ? headerName(p.forward_payload_header, `${field}.forward_payload_header`) : undefined;
  const locations: ProviderLocations = {
    issuer,
    headers,
    params: stringList(p.from_params, `${field}.from_params`),
    cookies: stringList(p.from_cookies, `${field}.from_cookies`),
  };
  return {
    name,
    issuer,
    audiences: audiences.length ? new Set(audiences.map(normalizeAudience)) : undefined,
    subjects: p.subjects ? compileStringMatcher(p.subjects as never, `${field}.subjects`) : undefined,
    requireExpiration: p.require_expiration === true,
    clockSkewSeconds: skew > 0 ? skew : DEFAULT_CLOCK_SKEW_SECONDS,
    jwks: compileKeys(jwksText(p.local_jwks, `${field}.local_jwks`), `${field}.local_jwks.inline_string`),
    forward: p.forward === true,
    payloadHeader,
    padPayloadHeader: p.pad_forward_payload_header === true,
    payloadInMetadata: optionalName(p.payload_in_metadata, `${field}.payload_in_metadata`),
    headerInMetadata: optionalName(p.header_in_metadata, `${field}.header_in_metadata`),
    spaceDelimitedClaims: stringList((p.normalize_payload_in_metadata as { space_delimited_claims?: unknown } | undefined)?.space_delimited_claims, `${field}.normalize_payload_in_metadata.space_delimited_claims`),
    claimHeaders,
    locations,
    extractor: buildExtractor([locations]),
    cache: new TokenCache(cacheSize > 0 ? cacheSize : DEFAULT_TOKEN_CACHE_SIZE),
  };
}

function normalizedClaims(payload: Readonly<Record<string, unknown>>, spaceDelimited: readonly string[]): Readonly<Record<string, unknown>> {
  let out: Record<string, unknown> | undefined;
  for (const claim of spaceDelimited) {
    const v = payload[claim];
    if (typeof v !== "string") continue;
    out ??= { ...payload };
    out[claim] = v.split(" ").filter((s) => s !== "");
  }
  return Object.freeze(out ?? payload);
}

export function verifiedJwt(p: CompiledProvider, jwt: ParsedJwt): VerifiedJwt {
  const claims = normalizedClaims(jwt.payload, p.spaceDelimitedClaims);
  const istio: IstioAuthn = Object.freeze({
    "request.auth.principal": `${jwt.iss}/${jwt.sub}`,
    "request.auth.audiences": Object.freeze([...jwt.aud]),
    "request.auth.presenter": jwt.azp,
    "request.auth.claims": claims,
  });
  return Object.freeze({ jwt, claims, istio });
}

/**
 * Tokens whose signature verified, most recently used last (a Map keeps insertion order).
 * A hit skips parsing and the signature; time, issuer, audience and subject are still checked.
 */
export class TokenCache {
  readonly max: number;
  private readonly map = new Map<string, VerifiedJwt>();

  constructor(max: number) {
    this.max = max;
  }

  get(token: string, nowSeconds: number, skewSeconds: number): VerifiedJwt | undefined {
    const hit = this.map.get(token);
    if (!hit) return undefined;
    this.map.delete(token);
    if (hit.jwt.exp > 0 && nowSeconds > hit.jwt.exp + skewSeconds) return undefined; // expired: drop it
    this.map.set(token, hit);
    return hit;
  }

  add(v: VerifiedJwt): void {
    if (v.jwt.token.length > MAX_CACHED_TOKEN_LENGTH) return;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(v.jwt.token, v);
  }

  get size(): number {
    return this.map.size;
  }
}

const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A claim as a header value, as Envoy writes it; undefined when absent or not writable. */
export function claimHeaderValue(payload: Readonly<Record<string, unknown>>, path: readonly string[]): string | undefined {
  let v: unknown = payload;
  for (const part of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  let s: string;
  if (typeof v === "string") s = v;
  else if (typeof v === "number") s = Number.isInteger(v) && v >= 0 && v < 2 ** 64 ? BigInt(v).toString() : v.toFixed(6);
  else if (typeof v === "boolean") s = v ? "true" : "false";
  else if (typeof v === "object" && v !== null) s = Buffer.from(JSON.stringify(v)).toString("base64");
  else return undefined;
  // A claim with CR, LF or other control characters would make an invalid header: leave it out.
  return s !== "" && HEADER_VALUE.test(s) ? s : undefined;
}
