import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Issues } from "./checks.ts";
import { checkRequestAuthenticationMore } from "./request-authentication.ts";

function check(spec: Record<string, unknown>) {
  const out = new Issues();
  checkRequestAuthenticationMore(spec, out);
  return out.list.map((i) => ({ path: i.path.join("."), message: i.message, severity: i.severity }));
}
const errors = (spec: Record<string, unknown>) => check(spec).filter((i) => i.severity === "error");
const warnings = (spec: Record<string, unknown>) => check(spec).filter((i) => i.severity === "warning");

const rsaJwk = { ...generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }), kid: "k1" };
const ecJwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
const JWKS = JSON.stringify({ keys: [rsaJwk, ecJwk] });

test("a rule using every field passes without issues", () => {
  const spec = {
    selector: { matchLabels: { app: "reviews" } },
    jwtRules: [{
      issuer: "https://issuer.example.com",
      audiences: ["bookinfo"],
      jwks: JWKS,
      fromHeaders: [{ name: "x-jwt-assertion", prefix: "Bearer " }],
      fromParams: ["token"],
      fromCookies: ["session"],
      outputPayloadToHeader: "x-jwt-payload",
      outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }],
      forwardOriginalToken: true,
      timeout: "3s",
    }, { issuer: "https://other.example.com", jwksUri: "https://other.example.com/keys" }],
  };
  assert.deepEqual(check(spec), []);
});

test("inline jwks must be a JSON Web Key Set with a usable public key", () => {
  const at = "spec.jwtRules.0.jwks";
  const e = (jwks: unknown) => errors({ jwtRules: [{ issuer: "i", jwks }] }).filter((x) => x.path === at).map((x) => x.message);
  assert.match(e("{not json")[0]!, /not valid JSON/);
  assert.match(e('{"keys":[]}')[0]!, /non-empty "keys" list/);
  assert.match(e("[1]")[0]!, /non-empty "keys" list/);
  assert.match(e(JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] })).at(-1)!, /no key that can verify/);
  assert.match(e(JSON.stringify({ keys: [{ kty: "RSA", n: "!!", e: "AQAB" }] })).at(-1)!, /no key that can verify/);
  const mixed = check({ jwtRules: [{ issuer: "i", jwks: JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }, rsaJwk] }) }] });
  assert.deepEqual(mixed.map((x) => x.severity), ["warning", "warning"], "a symmetric key is ignored, and it is a secret in config");
  assert.match(mixed[0]!.message, /symmetric \(oct\)/);
  assert.match(mixed[1]!.message, /private key material/);
});

test("jwks with jwksUri warns; a malformed jwksUri is an error; an issuer without keys warns", () => {
  const w = warnings({ jwtRules: [{ issuer: "i", jwks: JWKS, jwksUri: "https://k.example.com/jwks" }] });
  assert.deepEqual(w.map((x) => x.path), ["spec.jwtRules.0.jwksUri"]);
  assert.match(errors({ jwtRules: [{ issuer: "i", jwksUri: "https://bad host/x" }] })[0]!.message, /not a valid URL/);
  assert.match(errors({ jwtRules: [{ issuer: "i", jwksUri: "https://k:99999/x" }] })[0]!.message, /not a valid URL/);
  assert.match(warnings({ jwtRules: [{ issuer: "testing@secure.istio.io" }] })[0]!.message, /every token of this issuer will be rejected/);
  assert.deepEqual(warnings({ jwtRules: [{ issuer: "https://accounts.example.com" }] }), [], "discovery can find its keys");
});

test("token locations and output headers must be well-formed", () => {
  const issues = errors({
    jwtRules: [{
      issuer: "i", jwks: JWKS, audiences: [""],
      fromHeaders: [{ name: "bad header" }, { name: "x-ok", prefix: "a\nb" }, "x"],
      fromParams: [""], fromCookies: ["bad;cookie", ""],
      outputPayloadToHeader: "x payload",
      outputClaimToHeaders: [{ header: "x-sub" }, { header: "x:y", claim: "sub" }],
      forwardOriginalToken: "yes", timeout: "soon",
    }],
  });
  assert.deepEqual(issues.map((x) => x.path), [
    "spec.jwtRules.0.audiences.0",
    "spec.jwtRules.0.fromHeaders.0.name",
    "spec.jwtRules.0.fromHeaders.1.prefix",
    "spec.jwtRules.0.fromHeaders.2",
    "spec.jwtRules.0.fromParams.0",
    "spec.jwtRules.0.fromCookies.0",
    "spec.jwtRules.0.fromCookies.1",
    "spec.jwtRules.0.outputPayloadToHeader",
    "spec.jwtRules.0.outputClaimToHeaders.0",
    "spec.jwtRules.0.outputClaimToHeaders.1.header",
    "spec.jwtRules.0.forwardOriginalToken",
    "spec.jwtRules.0.timeout",
  ]);
  assert.match(issues[1]!.message, /not a valid HTTP header name/);
});

test("an output header written twice warns", () => {
  const w = warnings({ jwtRules: [{ issuer: "i", jwks: JWKS, outputPayloadToHeader: "X-Out", outputClaimToHeaders: [{ header: "x-out", claim: "sub" }] }] });
  assert.match(w[0]!.message, /also written by outputPayloadToHeader/);
});

test("selector and targetRef are exclusive; a targetRef policy does not reach sidecars", () => {
  assert.match(errors({ selector: { matchLabels: { a: "b" } }, targetRef: { kind: "Gateway", name: "g" } })[0]!.message, /only one of/);
  assert.match(errors({ targetRef: { kind: "Gateway", name: "g" }, targetRefs: [] })[0]!.message, /only one of/);
  assert.match(warnings({ targetRefs: [{ kind: "Gateway", name: "g" }] })[0]!.message, /never to sidecars/);
  assert.match(errors({ jwtRules: { issuer: "i" } })[0]!.message, /must be a list/);
  assert.match(errors({ jwtRules: ["i"] })[0]!.message, /must be an object/);
});
