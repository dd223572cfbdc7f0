// RequestAuthentication checks beyond those in security.ts (issuer, jwksUri scheme, header
// names present): Istio's webhook rules for JWT rules, plus what the Mizzen proxy needs to use
// the keys and write the headers. Run after validateRequestAuthentication.
import { createPublicKey } from "node:crypto";
import { duration, isObj, Issues, list, obj, str } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

// RFC 9110 token characters: what an HTTP header (and a cookie) name may contain.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function headerNameError(v: unknown, what: string): string | null {
  if (typeof v !== "string" || v === "") return `${what} must be a non-empty string`;
  if (!TOKEN.test(v)) return `${what} "${v}" is not a valid HTTP header name: use letters, digits and "-" (e.g. "x-jwt-payload")`;
  return null;
}

/** Why one JWK cannot verify signatures in the Mizzen proxy, or null when it can. */
function jwkProblem(jwk: Obj): string | null {
  const kty = jwk.kty;
  if (typeof kty !== "string") return 'has no "kty"';
  if (kty === "oct") return "is a symmetric (oct) key; Mizzen verifies only public-key signatures (RSA, EC, OKP)";
  if (kty !== "RSA" && kty !== "EC" && kty !== "OKP") return `has kty "${kty}"; use RSA, EC or OKP`;
  const members = kty === "RSA" ? ["n", "e"] : kty === "EC" ? ["crv", "x", "y"] : ["crv", "x"];
  const pub: Obj = { kty };
  for (const m of members) {
    const v = jwk[m];
    if (typeof v !== "string" || v === "" || (m !== "crv" && !/^[A-Za-z0-9_-]+$/.test(v))) return `has no valid "${m}" (a base64url string)`;
    pub[m] = v;
  }
  try {
    createPublicKey({ key: pub as never, format: "jwk" });
  } catch (err) {
    return `is not a valid ${kty} public key (${(err as Error).message})`;
  }
  return null;
}

function checkJwks(text: unknown, at: PathSegment[], out: Issues): void {
  if (typeof text !== "string") {
    out.error(at, "jwks must be a string holding a JSON Web Key Set");
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    out.error(at, `jwks is not valid JSON (${(err as Error).message}); paste the JSON Web Key Set, e.g. {"keys":[{"kty":"RSA",...}]}`);
    return;
  }
  const keys = isObj(doc) ? doc.keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) {
    out.error(at, 'jwks must be a JSON object with a non-empty "keys" list');
    return;
  }
  let usable = 0;
  keys.forEach((k, i) => {
    if (!isObj(k)) {
      out.error(at, `jwks key ${i} is not a JSON object`);
      return;
    }
    const problem = jwkProblem(k);
    if (problem) out.warn(at, `jwks key ${i}${typeof k.kid === "string" ? ` (kid "${k.kid}")` : ""} ${problem}; it is ignored`);
    else usable++;
    if (k.d !== undefined || k.p !== undefined || k.k !== undefined) {
      out.warn(at, `jwks key ${i} contains private key material ("d", "p" or "k"); publish only the public key, and consider this key leaked`);
    }
  });
  if (usable === 0) out.error(at, "jwks has no key that can verify a signature (RSA, EC P-256/384/521 or Ed25519/Ed448 public keys)");
}

function checkRule(rule: Obj, at: PathSegment[], out: Issues): void {
  list(rule.audiences).forEach((a, j) => {
    if (typeof a !== "string" || a === "") out.error([...at, "audiences", j], "audience must be a non-empty string");
  });
  const jwks = rule.jwks;
  const jwksUri = str(rule.jwksUri) ?? str(rule.jwks_uri) ?? "";
  if (jwks !== undefined && jwks !== "") {
    checkJwks(jwks, [...at, "jwks"], out);
    if (jwksUri !== "") out.warn([...at, "jwksUri"], "jwks and jwksUri are both set; the inline jwks is used and jwksUri is ignored");
  }
  if (jwksUri !== "" && /^https?:\/\//.test(jwksUri)) {
    try {
      if (new URL(jwksUri).hostname === "") out.error([...at, "jwksUri"], `jwksUri "${jwksUri}" has no host`);
    } catch {
      out.error([...at, "jwksUri"], `jwksUri "${jwksUri}" is not a valid URL`);
    }
  }
  const issuer = str(rule.issuer) ?? "";
  if ((jwks === undefined || jwks === "") && jwksUri === "" && issuer !== "" && !/^https?:\/\/[^\s/]+/.test(issuer)) {
    out.warn([...at, "issuer"], `no jwks or jwksUri, and issuer "${issuer}" is not an http(s) URL whose OpenID discovery document could name the keys; every token of this issuer will be rejected. Set jwksUri or jwks`);
  }
  list(rule.fromHeaders).forEach((h, j) => {
    if (!isObj(h)) {
      out.error([...at, "fromHeaders", j], "must be an object with name (and optional prefix)");
      return;
    }
    if (typeof h.name === "string" && h.name !== "") out.check([...at, "fromHeaders", j, "name"], headerNameError(h.name, "header name"));
    if (h.prefix !== undefined && (typeof h.prefix !== "string" || /[\r\n\0]/.test(h.prefix))) {
      out.error([...at, "fromHeaders", j, "prefix"], 'prefix must be a string without line breaks (e.g. "Bearer ")');
    }
  });
  list(rule.fromParams).forEach((p, j) => {
    if (typeof p !== "string" || p === "") out.error([...at, "fromParams", j], "query parameter name must be a non-empty string");
  });
  list(rule.fromCookies).forEach((c, j) => {
    if (typeof c !== "string" || c === "") out.error([...at, "fromCookies", j], "cookie name must be a non-empty string");
    else if (!TOKEN.test(c)) out.error([...at, "fromCookies", j], `cookie name "${c}" contains characters a cookie name cannot have`);
  });
  const written = new Map<string, string>();
  const payloadHeader = rule.outputPayloadToHeader;
  if (payloadHeader !== undefined && payloadHeader !== "") {
    out.check([...at, "outputPayloadToHeader"], headerNameError(payloadHeader, "outputPayloadToHeader"));
    if (typeof payloadHeader === "string") written.set(payloadHeader.toLowerCase(), "outputPayloadToHeader");
  }
  list(rule.outputClaimToHeaders).forEach((c, j) => {
    const ch = obj(c);
    const where = [...at, "outputClaimToHeaders", j];
    if (typeof ch.claim !== "string" || ch.claim === "" || typeof ch.header !== "string" || ch.header === "") {
      out.error(where, "outputClaimToHeaders needs a non-empty header and claim");
      return;
    }
    const bad = headerNameError(ch.header, "header");
    if (bad) {
      out.error([...where, "header"], bad);
      return;
    }
    const key = ch.header.toLowerCase();
    if (written.has(key)) out.warn([...where, "header"], `header "${ch.header}" is also written by ${written.get(key)}; the last value wins`);
    written.set(key, `outputClaimToHeaders[${j}]`);
  });
  if (rule.forwardOriginalToken !== undefined && typeof rule.forwardOriginalToken !== "boolean") {
    out.error([...at, "forwardOriginalToken"], "forwardOriginalToken must be true or false");
  }
  if (rule.timeout !== undefined) out.check([...at, "timeout"], duration(rule.timeout, "timeout"));
}

export function checkRequestAuthenticationMore(spec: Obj, out: Issues): void {
  const hasSelector = spec.selector !== undefined && spec.selector !== null;
  const hasRef = spec.targetRef !== undefined;
  const hasRefs = spec.targetRefs !== undefined;
  if ((hasSelector ? 1 : 0) + (hasRef ? 1 : 0) + (hasRefs ? 1 : 0) > 1) {
    out.error(["spec", hasRefs ? "targetRefs" : "targetRef"], "set only one of selector, targetRef and targetRefs");
  } else if (hasRef || hasRefs) {
    out.warn(["spec", hasRefs ? "targetRefs" : "targetRef"], "a policy with targetRef applies to gateways and waypoints, never to sidecars; Mizzen's sidecars ignore it");
  }
  if (spec.jwtRules !== undefined && !Array.isArray(spec.jwtRules)) {
    out.error(["spec", "jwtRules"], "jwtRules must be a list");
    return;
  }
  list(spec.jwtRules).forEach((r, i) => {
    if (!isObj(r)) out.error(["spec", "jwtRules", i], "a JWT rule must be an object with at least an issuer");
    else checkRule(r, ["spec", "jwtRules", i], out);
  });
}
