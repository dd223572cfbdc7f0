// One compact JWS token (RFC 7519) taken apart without trusting it: header, payload, the
// claims the jwt_authn filter checks, and the failure statuses the filter answers with.
//
// The reasons are the short sentences Envoy's jwt_authn filter puts in its 401 body (users
// search for them, and Istio's docs quote them); the rarer parse failures are worded here.

/** A verification failure: the HTTP status, a stable code (for logs) and the body text. */
export interface JwtFailure {
  readonly code: string;
  readonly status: 401 | 403;
  readonly reason: string;
}

function failure(code: string, reason: string, status: 401 | 403 = 401): JwtFailure {
  return Object.freeze({ code, status, reason });
}

export const FAIL = {
  missing: failure("JwtMissed", "Jwt is missing"),
  badFormat: failure("JwtBadFormat", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
  headerBase64: failure("JwtHeaderParseErrorBadBase64", "Jwt header is not valid base64url"),
  headerJson: failure("JwtHeaderParseErrorBadJson", "Jwt header is not a JSON object"),
  headerAlg: failure("JwtHeaderBadAlg", "Jwt header has no [alg] string"),
  algUnsupported: failure("JwtHeaderNotImplementedAlg", "Jwt header [alg] is not supported"),
  headerKid: failure("JwtHeaderBadKid", "Jwt header [kid] is not a string"),
  payloadBase64: failure("JwtPayloadParseErrorBadBase64", "Jwt payload is not valid base64url"),
  payloadJson: failure("JwtPayloadParseErrorBadJson", "Jwt payload is not a JSON object"),
  signatureBase64: failure("JwtSignatureParseErrorBadBase64", "Jwt signature is not valid base64url"),
  notYetValid: failure("JwtNotYetValid", "Jwt not yet valid"),
  expired: failure("JwtExpired", "Jwt is expired"),
  expRequired: failure("JwtExpirationRequired", "Jwt has no [exp] claim but this issuer requires one"),
  unknownIssuer: failure("JwtUnknownIssuer", "Jwt issuer is not configured"),
  audience: failure("JwtAudienceNotAllowed", "Audiences in Jwt are not allowed", 403),
  subject: failure("JwtSubjectNotAllowed", "Jwt subject is not allowed"),
  noValidKeys: failure("JwksNoValidKeys", "Jwks doesn't have valid keys"),
  noKey: failure("JwksKidAlgMismatch", "Jwks doesn't have key to match kid or alg from Jwt"),
  signature: failure("JwtVerificationFail", "Jwt verification fails"),
} as const;

const claimFailures = new Map<string, JwtFailure>();
/** "Jwt payload [exp] has the wrong type", one frozen object per claim. */
function badClaim(claim: string): JwtFailure {
  let f = claimFailures.get(claim);
  if (!f) {
    f = failure("JwtPayloadParseErrorBadClaim", `Jwt payload [${claim}] has the wrong type`);
    claimFailures.set(claim, f);
  }
  return f;
}

/** A token whose structure and claim types are sound; nothing about it is verified yet. */
export interface ParsedJwt {
  readonly token: string;
  readonly alg: string;
  readonly kid: string | undefined;
  /** Offset of the second dot: token.slice(0, signedLength) is the JWS signing input. */
  readonly signedLength: number;
  readonly signature: Buffer;
  /** The payload exactly as sent (base64url), for forward_payload_header. */
  readonly payloadB64: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly azp: string;
  /** Seconds since the epoch; 0 when the claim is absent. */
  readonly exp: number;
  readonly nbf: number;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeJsonObject(part: string): Record<string, unknown> | "base64" | "json" {
  if (part === "" || !B64URL.test(part) || part.length % 4 === 1) return "base64";
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return "json";
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : "json";
}

function timeClaim(v: unknown): number | undefined {
  if (v === undefined) return 0;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
}

/** Splits and decodes a compact token; returns the reason when it is malformed. */
export function parseJwt(token: string): ParsedJwt | JwtFailure {
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot2 < 0 || token.indexOf(".", dot2 + 1) >= 0) return FAIL.badFormat;
  const header = decodeJsonObject(token.slice(0, dot1));
  if (header === "base64") return FAIL.headerBase64;
  if (header === "json") return FAIL.headerJson;
  if (typeof header.alg !== "string" || header.alg === "") return FAIL.headerAlg;
  if (header.kid !== undefined && typeof header.kid !== "string") return FAIL.headerKid;
  const payloadB64 = token.slice(dot1 + 1, dot2);
  const payload = decodeJsonObject(payloadB64);
  if (payload === "base64") return FAIL.payloadBase64;
  if (payload === "json") return FAIL.payloadJson;
  const sigB64 = token.slice(dot2 + 1);
  if (sigB64 === "" || !B64URL.test(sigB64) || sigB64.length % 4 === 1) return FAIL.signatureBase64;
  for (const claim of ["iss", "sub", "azp", "jti"]) {
    if (payload[claim] !== undefined && typeof payload[claim] !== "string") return badClaim(claim);
  }
  let aud: string[];
  if (payload.aud === undefined) aud = [];
  else if (typeof payload.aud === "string") aud = [payload.aud];
  else if (Array.isArray(payload.aud) && payload.aud.every((a) => typeof a === "string")) aud = payload.aud as string[];
  else return badClaim("aud");
  const exp = timeClaim(payload.exp);
  if (exp === undefined) return badClaim("exp");
  const nbf = timeClaim(payload.nbf);
  if (nbf === undefined) return badClaim("nbf");
  if (timeClaim(payload.iat) === undefined) return badClaim("iat");
  return {
    token,
    alg: header.alg,
    kid: header.kid as string | undefined,
    signedLength: dot2,
    signature: Buffer.from(sigB64, "base64url"),
    payloadB64,
    header,
    payload,
    iss: (payload.iss as string | undefined) ?? "",
    sub: (payload.sub as string | undefined) ?? "",
    aud,
    azp: (payload.azp as string | undefined) ?? "",
    exp,
    nbf,
  };
}

/** Envoy's time rule: not before nbf - skew, not after exp + skew (exp 0 = never expires). */
export function checkTime(jwt: ParsedJwt, nowSeconds: number, skewSeconds: number): JwtFailure | null {
  if (jwt.nbf > nowSeconds + skewSeconds) return FAIL.notYetValid;
  if (jwt.exp > 0 && nowSeconds > jwt.exp + skewSeconds) return FAIL.expired;
  return null;
}

/**
 * Audiences compare as Envoy's jwt_verify_lib does: an "http://" or "https://" scheme and one
 * trailing "/" are ignored on both sides, so "https://api.example.com/" matches "api.example.com".
 */
export function normalizeAudience(aud: string): string {
  let a = aud;
  if (a.startsWith("https://")) a = a.slice(8);
  else if (a.startsWith("http://")) a = a.slice(7);
  return a.endsWith("/") ? a.slice(0, -1) : a;
}

/** True when no audiences are configured, or the token names at least one of them. */
export function audienceAllowed(allowed: ReadonlySet<string> | undefined, jwt: ParsedJwt): boolean {
  if (!allowed || allowed.size === 0) return true;
  for (const a of jwt.aud) if (allowed.has(normalizeAudience(a))) return true;
  return false;
}
