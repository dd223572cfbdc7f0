import { test, before } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { ConfigInvalid } from "../../state/string-match.ts";
import { compileJwtAuthn, verifyRequest, verifyRequestSync, wwwAuthenticate, type CompiledJwtAuthn, type JwtOutcome } from "./jwt-authn.ts";
import { buildExtractor, extractTokens, mayHaveToken, RequestView, tokenAfterPrefix } from "./jwt-locations.ts";
import { istioConfig, jwksOf, nowSeconds, testKey, type TestKey } from "./jwt-test-kit.ts";

const ISS = "https://issuer.example.com";
let rsa: TestKey, ec: TestKey, impostor: TestKey, other: TestKey;

before(async () => {
  rsa = await testKey("RS256", "rsa-1");
  ec = await testKey("ES256", "ec-1");
  impostor = await testKey("RS256", "rsa-1"); // same kid, different key
  other = await testKey("RS256", "other-1");
});

function provider(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { issuer: ISS, local_jwks: { inline_string: jwksOf(rsa, ec) }, payload_in_metadata: "payload", ...extra };
}

function filterOf(providers: Record<string, Record<string, unknown>>): CompiledJwtAuthn {
  return compileJwtAuthn(istioConfig(providers), "http_filters[0].typed_config");
}

function check(f: CompiledJwtAuthn, headers: IncomingHttpHeaders, path = "/api", now?: number): { out: JwtOutcome; headers: IncomingHttpHeaders } {
  const h = { ...headers };
  return { out: verifyRequestSync(f, { headers: h, path }, now), headers: h };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, sub: "alice", aud: "bookinfo", exp: nowSeconds() + 600, ...extra });

function failed(out: JwtOutcome): { status: number; reason: string } {
  assert.equal(out.ok, false, "expected a rejection");
  return out as { ok: false; status: number; reason: string };
}

test("a valid RS256 token passes: Istio's metadata for RBAC, the token header removed", async () => {
  const f = filterOf({ "origins-0": provider() });
  const token = await rsa.sign(claims({ azp: "web", scope: "read write" }));
  const { out, headers } = check(f, { ...bearer(token), "x-other": "1" });
  assert.equal(out.ok, true);
  const md = (out as { metadata: Record<string, any> }).metadata;
  assert.equal(md.istio_authn["request.auth.principal"], `${ISS}/alice`);
  assert.deepEqual(md.istio_authn["request.auth.audiences"], ["bookinfo"]);
  assert.equal(md.istio_authn["request.auth.presenter"], "web");
  assert.equal(md.istio_authn["request.auth.claims"].sub, "alice");
  assert.equal(md["envoy.filters.http.jwt_authn"].payload.iss, ISS);
  assert.equal(headers.authorization, undefined, "forward is false: the token is removed");
  assert.equal(headers["x-other"], "1");
});

test("a valid ES256 token passes with the same JWKS", async () => {
  const f = filterOf({ "origins-0": provider() });
  const { out } = check(f, bearer(await ec.sign(claims())));
  assert.equal(out.ok, true);
});

test("no token passes without metadata; a non-Bearer Authorization is no token", () => {
  const f = filterOf({ "origins-0": provider() });
  assert.deepEqual(check(f, {}).out, { ok: true });
  const { out, headers } = check(f, { authorization: "Basic dXNlcjpwYXNz" });
  assert.deepEqual(out, { ok: true });
  assert.equal(headers.authorization, "Basic dXNlcjpwYXNz", "not ours to remove");
});

test("expiry and not-before honour Envoy's 60 s clock skew", async () => {
  const f = filterOf({ "origins-0": provider() });
  const now = nowSeconds();
  assert.equal(failed(check(f, bearer(await rsa.sign(claims({ exp: now - 120 })))).out).reason, "Jwt is expired");
  assert.equal(check(f, bearer(await rsa.sign(claims({ exp: now - 30 })))).out.ok, true, "within the skew");
  assert.equal(failed(check(f, bearer(await rsa.sign(claims({ nbf: now + 300 })))).out).reason, "Jwt not yet valid");
  const g = filterOf({ "origins-0": provider({ clock_skew_seconds: 1 }) });
  assert.equal(failed(check(g, bearer(await rsa.sign(claims({ exp: now - 30 })))).out).reason, "Jwt is expired");
});

test("wrong issuer is 401, wrong audience is 403 (as Envoy)", async () => {
  const f = filterOf({ "origins-0": provider({ audiences: ["bookinfo", "https://api.example.com/"] }) });
  const wrongIss = failed(check(f, bearer(await rsa.sign(claims({ iss: "https://evil.example.com" })))).out);
  assert.deepEqual([wrongIss.status, wrongIss.reason], [401, "Jwt issuer is not configured"]);
  const wrongAud = failed(check(f, bearer(await rsa.sign(claims({ aud: ["other"] })))).out);
  assert.deepEqual([wrongAud.status, wrongAud.reason], [403, "Audiences in Jwt are not allowed"]);
  assert.equal(check(f, bearer(await rsa.sign(claims({ aud: ["x", "api.example.com"] })))).out.ok, true, "scheme and trailing slash are ignored");
  const anyAud = filterOf({ "origins-0": provider() });
  assert.equal(check(anyAud, bearer(await rsa.sign(claims({ aud: "whatever" })))).out.ok, true, "no audiences configured: any");
});

test("unknown kid, bad signature, unsupported alg and garbage are rejected with their reason", async () => {
  const f = filterOf({ "origins-0": provider() });
  assert.equal(failed(check(f, bearer(await other.sign(claims()))).out).reason, "Jwks doesn't have key to match kid or alg from Jwt");
  assert.equal(failed(check(f, bearer(await impostor.sign(claims()))).out).reason, "Jwt verification fails");
  const good = await rsa.sign(claims());
  const [h, p] = good.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify(claims({ sub: "admin" }))).toString("base64url")}.${good.split(".")[2]}`;
  assert.equal(failed(check(f, bearer(tampered)).out).reason, "Jwt verification fails");
  const hs = `${Buffer.from('{"alg":"HS256"}').toString("base64url")}.${p}.c2ln`;
  assert.equal(failed(check(f, bearer(hs)).out).reason, "Jwt header [alg] is not supported");
  const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${p}.c2ln`;
  assert.equal(failed(check(f, bearer(none)).out).reason, "Jwt header [alg] is not supported");
  assert.match(failed(check(f, bearer("garbage")).out).reason, /^Jwt is not in the form of Header\.Payload\.Signature/);
  assert.match(failed(check(f, bearer("a.b.c.d")).out).reason, /^Jwt is not in the form/);
  assert.equal(failed(check(f, bearer("e30.e30.e30")).out).reason, "Jwt header has no [alg] string");
  assert.equal(failed(check(f, bearer(`${h}.bm90IGpzb24.c2ln`)).out).reason, "Jwt payload is not a JSON object");
  assert.equal(failed(check(f, bearer(`${h}.${Buffer.from('{"exp":"soon"}').toString("base64url")}.c2ln`)).out).reason, "Jwt payload [exp] has the wrong type");
  const out = check(f, bearer("garbage")).out;
  assert.equal(wwwAuthenticate(out, "http://svc/api"), 'Bearer realm="http://svc/api", error="invalid_token"');
});

test("tokens in a custom header with prefix, a query parameter and a cookie", async () => {
  const f = filterOf({
    "origins-0": provider({ from_headers: [{ name: "X-Jwt-Assertion", value_prefix: "Token " }], from_params: ["jwt"], from_cookies: ["session"] }),
  });
  const token = await rsa.sign(claims());
  const viaHeader = check(f, { "x-jwt-assertion": `Token ${token}` });
  assert.equal(viaHeader.out.ok, true);
  assert.equal(viaHeader.headers["x-jwt-assertion"], undefined, "the header is removed");
  assert.equal(check(f, {}, `/api?a=1&jwt=${token}`).out.ok, true);
  assert.equal(failed(check(f, {}, "/api?jwt=nope").out).reason.startsWith("Jwt is not in the form"), true);
  const viaCookie = check(f, { cookie: `theme=dark; session="${token}"` });
  assert.equal(viaCookie.out.ok, true);
  assert.equal(viaCookie.headers.cookie, `theme=dark; session="${token}"`, "cookies stay (as in Envoy)");
  // Explicit locations replace the defaults: a Bearer token is not looked at.
  assert.deepEqual(check(f, bearer("garbage")).out, { ok: true });
  // Default locations include ?access_token=.
  const d = filterOf({ "origins-0": provider() });
  assert.equal(failed(check(d, {}, "/api?access_token=garbage").out).reason.startsWith("Jwt is not in the form"), true);
});

test("outputPayloadToHeader: the base64url payload, and a forged header never passes", async () => {
  const f = filterOf({ "origins-0": provider({ forward_payload_header: "x-jwt-payload" }) });
  const token = await rsa.sign(claims());
  const { out, headers } = check(f, { ...bearer(token), "x-jwt-payload": "forged" });
  assert.equal(out.ok, true);
  assert.equal(headers["x-jwt-payload"], token.split(".")[1]);
  assert.equal(JSON.parse(Buffer.from(headers["x-jwt-payload"] as string, "base64url").toString()).sub, "alice");
  const noToken = check(f, { "x-jwt-payload": "forged" });
  assert.deepEqual(noToken.out, { ok: true });
  assert.equal(noToken.headers["x-jwt-payload"], undefined, "removed even without a token");
});

test("claim_to_headers writes strings, numbers, nested claims and objects as Envoy does", async () => {
  const f = filterOf({
    "origins-0": provider({
      claim_to_headers: [
        { header_name: "x-sub", claim_name: "sub" },
        { header_name: "x-level", claim_name: "level" },
        { header_name: "x-team", claim_name: "org.team" },
        { header_name: "x-groups", claim_name: "groups" },
        { header_name: "x-evil", claim_name: "evil" },
        { header_name: "x-absent", claim_name: "nope" },
      ],
    }),
  });
  const token = await rsa.sign(claims({ level: 3, org: { team: "payments" }, groups: ["a", "b"], evil: "x\r\ninjected: 1" }));
  const { out, headers } = check(f, { ...bearer(token), "x-absent": "forged" });
  assert.equal(out.ok, true);
  assert.equal(headers["x-sub"], "alice");
  assert.equal(headers["x-level"], "3");
  assert.equal(headers["x-team"], "payments");
  assert.deepEqual(JSON.parse(Buffer.from(headers["x-groups"] as string, "base64").toString()), ["a", "b"]);
  assert.equal(headers["x-evil"], undefined, "a value with CR/LF is never written");
  assert.equal(headers["x-absent"], undefined, "output headers are cleared first");
});

test("forwardOriginalToken true keeps the token header", async () => {
  const f = filterOf({ "origins-0": provider({ forward: true }) });
  const token = await rsa.sign(claims());
  const { out, headers } = check(f, bearer(token));
  assert.equal(out.ok, true);
  assert.equal(headers.authorization, `Bearer ${token}`);
});

test("two rules with different issuers (istiod's requirement): either issuer passes, others fail", async () => {
  const f = filterOf({
    "origins-0": provider(),
    "origins-1": { issuer: "issuer-2", local_jwks: { inline_string: jwksOf(other) }, from_headers: [{ name: "x-token" }] },
  });
  assert.equal(check(f, bearer(await rsa.sign(claims()))).out.ok, true);
  const second = check(f, { "x-token": await other.sign(claims({ iss: "issuer-2" })) });
  assert.equal(second.out.ok, true);
  assert.equal(second.headers["x-token"], undefined);
  // A token from issuer-2 in the Authorization header: only origins-0 reads that header.
  assert.equal(failed(check(f, bearer(await other.sign(claims({ iss: "issuer-2" })))).out).reason, "Jwt issuer is not configured");
  assert.equal(failed(check(f, { "x-token": "garbage" }).out).reason.startsWith("Jwt is not in the form"), true);
  // Both present and valid.
  const both = check(f, { ...bearer(await rsa.sign(claims())), "x-token": await other.sign(claims({ iss: "issuer-2" })) });
  assert.equal(both.out.ok, true);
});

test("two issuers sharing the Authorization header: the token's issuer picks the provider", async () => {
  const f = filterOf({
    "origins-0": provider(),
    "origins-1": { issuer: "issuer-2", local_jwks: { inline_string: jwksOf(other) } },
  });
  assert.equal(check(f, bearer(await rsa.sign(claims()))).out.ok, true);
  const out = check(f, bearer(await other.sign(claims({ iss: "issuer-2", sub: "bob" })))).out;
  assert.equal(out.ok, true);
  assert.equal((out as { metadata: Record<string, any> }).metadata.istio_authn["request.auth.principal"], "issuer-2/bob");
  assert.equal(failed(check(f, bearer(await rsa.sign(claims({ iss: "issuer-3" })))).out).reason, "Jwt issuer is not configured");
});

test("space-delimited claims become lists in metadata (normalize_payload_in_metadata)", async () => {
  const f = filterOf({ "origins-0": provider({ normalize_payload_in_metadata: { space_delimited_claims: ["scope", "permission"] } }) });
  const out = check(f, bearer(await rsa.sign(claims({ scope: "read  write" })))).out as { metadata: Record<string, any> };
  assert.deepEqual(out.metadata["envoy.filters.http.jwt_authn"].payload.scope, ["read", "write"]);
  assert.deepEqual(out.metadata.istio_authn["request.auth.claims"].scope, ["read", "write"]);
});

test("a provider required alone rejects a request without a token", () => {
  const f = compileJwtAuthn({ providers: { p: provider() }, rules: [{ match: { prefix: "/admin" }, requires: { provider_name: "p" } }] }, "f");
  const out = failed(check(f, {}, "/admin/x").out);
  assert.deepEqual([out.status, out.reason], [401, "Jwt is missing"]);
  assert.equal(wwwAuthenticate(check(f, {}, "/admin").out, "http://svc/admin"), 'Bearer realm="http://svc/admin"');
  assert.deepEqual(check(f, {}, "/public").out, { ok: true }, "no rule matches: nothing is required");
});

test("CORS preflights bypass the check when bypass_cors_preflight is set", () => {
  const f = compileJwtAuthn({ providers: { p: provider() }, rules: [{ match: { prefix: "/" }, requires: { provider_name: "p" } }], bypass_cors_preflight: true }, "f");
  const headers = { origin: "https://app", "access-control-request-method": "POST" };
  assert.equal(verifyRequestSync(f, { headers: { ...headers }, path: "/", method: "OPTIONS" }).ok, true);
  assert.equal(verifyRequestSync(f, { headers: { ...headers }, path: "/", method: "GET" }).ok, false);
});

test("PS256, ES384 and EdDSA tokens verify", async () => {
  const ps = await testKey("PS256", "ps");
  const es384 = await testKey("ES384", "es384");
  const ed = await testKey("EdDSA", "ed", { crv: "Ed25519" });
  const f = filterOf({ p: { issuer: ISS, local_jwks: { inline_string: jwksOf(ps, es384, ed) } } });
  for (const k of [ps, es384, ed]) assert.equal(check(f, bearer(await k.sign(claims()))).out.ok, true, k.alg);
});

test("verified tokens are cached until they expire; a request without a token reuses one promise", async () => {
  const f = filterOf({ "origins-0": provider() });
  const cache = f.providers.get("origins-0")!.cache;
  const now = nowSeconds();
  const token = await rsa.sign(claims({ exp: now + 100 }));
  assert.equal(check(f, bearer(token), "/", now).out.ok, true);
  assert.equal(cache.size, 1);
  assert.equal(check(f, bearer(token), "/", now).out.ok, true, "a hit");
  assert.equal(cache.size, 1);
  assert.equal(failed(check(f, bearer(token), "/", now + 500).out).reason, "Jwt is expired", "a cached token still expires");
  assert.equal(cache.size, 0, "and leaves the cache");
  const p1 = verifyRequest(f, { headers: {}, path: "/" });
  const p2 = verifyRequest(f, { headers: {}, path: "/" });
  assert.equal(p1, p2);
  assert.deepEqual(await p1, { ok: true });
  assert.equal((await verifyRequest(f, { headers: bearer("garbage"), path: "/" })).ok, false);
});

test("bad config is refused at compile time with the field path", () => {
  const compile = (cfg: unknown) => () => compileJwtAuthn(cfg, "hcm.http_filters[0].typed_config");
  const invalid = (field: RegExp, reason: RegExp) => (e: unknown) => e instanceof ConfigInvalid && field.test(e.field) && reason.test(e.message);
  assert.throws(compile({ providers: { p: { issuer: ISS, local_jwks: { inline_string: "{not json" } } } }), invalid(/providers\["p"\]\.local_jwks\.inline_string$/, /not JSON/));
  assert.throws(compile({ providers: { p: { issuer: ISS, local_jwks: { inline_string: '{"kids":[]}' } } } }), invalid(/inline_string$/, /"keys" array/));
  assert.throws(compile({ providers: { p: { issuer: ISS, remote_jwks: { http_uri: { uri: "https://x" } } } } }), invalid(/remote_jwks$/, /inlines them/));
  assert.throws(compile({ providers: { p: provider() }, rules: [{ match: { prefix: "/" }, requires: { provider_name: "q" } }] }), invalid(/rules\[0\]\.requires\.provider_name$/, /"q" is not configured/));
  assert.throws(compile({ providers: { p: provider() }, rules: [{ match: { prefix: "/", headers: [{ name: "a" }] }, requires: {} }] }), invalid(/rules\[0\]\.match\.headers$/, /path only/));
  assert.throws(compile({ providers: { p: provider({ claim_to_headers: [{ header_name: "bad header", claim_name: "sub" }] }) } }), invalid(/claim_to_headers\[0\]\.header_name$/, /not a valid HTTP header name/));
  assert.throws(compile({ providers: { p: provider() }, filter_state_rules: { name: "x" } }), invalid(/filter_state_rules$/, /not supported/));
});

test("a JWKS with some unusable keys keeps the good ones", async () => {
  const text = JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }, { ...rsa.jwk }, { ...other.jwk, use: "enc" }] });
  const f = filterOf({ p: { issuer: ISS, local_jwks: { inline_string: text } } });
  assert.equal(f.providers.get("p")!.jwks.keys.length, 1);
  assert.equal(f.providers.get("p")!.jwks.skipped.length, 2);
  assert.equal(check(f, bearer(await rsa.sign(claims()))).out.ok, true);
  // No usable key at all still compiles (as in Envoy); every token then fails.
  const none = filterOf({ p: { issuer: ISS, local_jwks: { inline_string: '{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}' } } });
  assert.match(none.providers.get("p")!.jwks.skipped[0]!, /^key 0: /);
  assert.equal(failed(check(none, bearer(await rsa.sign(claims()))).out).reason, "Jwks doesn't have valid keys");
});

test("extraction follows Envoy: prefix anywhere, token ends at the first non-JWT character", () => {
  assert.equal(tokenAfterPrefix("Bearer a.b.c", "Bearer "), "a.b.c");
  assert.equal(tokenAfterPrefix("Basic x, Bearer a.b-c_d.e, other", "Bearer "), "a.b-c_d.e");
  assert.equal(tokenAfterPrefix("Bearer   \"a.b.c\"", "Bearer "), "a.b.c");
  assert.equal(tokenAfterPrefix("Basic abc", "Bearer "), undefined);
  assert.equal(tokenAfterPrefix("Bearer ,,,", "Bearer "), "Bearer ,,,", "nothing token-like: the whole value (fails to parse)");
  assert.equal(tokenAfterPrefix("raw", ""), "raw");
  const ex = buildExtractor([{ issuer: "i", headers: [{ name: "X-Tok", prefix: "" }], params: ["access_token"], cookies: ["s"] }]);
  const found = extractTokens(ex, new RequestView({ "x-tok": ["t1", "t2"], cookie: "a=1; s=t4" }, "/p?x=1&access%5Ftoken=t%2E3&access_token=ignored"));
  assert.deepEqual(found.map((f) => [f.location.kind, f.token]), [["header", "t1,t2"], ["param", "t.3"], ["cookie", "t4"]]);
  assert.equal(mayHaveToken(ex, {}, "/p?x=1"), false);
  assert.equal(mayHaveToken(ex, {}, "/p?access%5Ftoken=1"), true, "an encoded name is not missed");
  assert.equal(mayHaveToken(ex, { cookie: "s=1" }, "/"), true);
});
