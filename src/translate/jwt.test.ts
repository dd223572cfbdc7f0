import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cfg } from "../registry/fixtures.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { compileJwtAuthn, verifyRequestSync } from "../proxy/http/filters/jwt-authn.ts";
import { jwksOf, nowSeconds, testKey, type TestKey } from "../proxy/http/filters/jwt-test-kit.ts";
import { discoveryUrl, jwksSourcesInUse, jwtAuthnFilter, looksLikeJwks, unverifiableJwks, JWT_AUTHN_TYPE_URL, type JwksLookup } from "./jwt.ts";

const workload = { namespace: "default", labels: { app: "reviews", version: "v1" } };
const noKeys: JwksLookup = () => undefined;
const opts = (jwks: JwksLookup = noKeys) => ({ rootNamespace: "istio-system", jwks });
const ra = (name: string, spec: Record<string, unknown>, namespace = "default") => cfg("RequestAuthentication", name, spec, { namespace });

let key: TestKey;
before(async () => {
  key = await testKey("RS256", "k1");
});

/** The filter config as the proxy receives it: through the real proto encoding and back. */
function overTheWire(filter: { typed_config: object }): unknown {
  const { "@type": type, ...message } = filter.typed_config as Record<string, unknown>;
  assert.equal(type, JWT_AUTHN_TYPE_URL);
  return decodeResource(encodeResource(JWT_AUTHN_TYPE_URL, message));
}

test("which policies apply: namespace and root namespace, selector subset, targetRef ignored", () => {
  const rule = { jwtRules: [{ issuer: "https://a.example.com", jwks: jwksOf(key) }] };
  const names = (objs: ReturnType<typeof ra>[]) => {
    const f = jwtAuthnFilter(objs, workload, opts());
    return f ? Object.values((f.typed_config as unknown as { providers: Record<string, { issuer: string }> }).providers).map((p) => p.issuer) : [];
  };
  assert.equal(jwtAuthnFilter([], workload, opts()), undefined);
  assert.deepEqual(names([ra("x", rule, "other")]), [], "another namespace");
  assert.deepEqual(names([ra("x", { ...rule, selector: { matchLabels: { app: "ratings" } } })]), []);
  assert.deepEqual(names([ra("x", { ...rule, selector: { matchLabels: { app: "reviews" } } })]), ["https://a.example.com"]);
  assert.deepEqual(names([ra("x", rule, "istio-system")]), ["https://a.example.com"], "mesh-wide");
  assert.deepEqual(names([ra("x", { jwtRules: [{ issuer: "https://r.example.com" }], selector: { matchLabels: { version: "v1" } } }, "istio-system")]), ["https://r.example.com"]);
  assert.deepEqual(names([ra("x", { ...rule, targetRef: { kind: "Gateway", name: "gw" } })]), [], "for gateways and waypoints");
  assert.deepEqual(names([cfg("AuthorizationPolicy", "x", rule)]), []);
});

test("one rule: istiod's provider and requirement, accepted by Envoy's proto", () => {
  const f = jwtAuthnFilter([ra("jwt", { jwtRules: [{ issuer: "https://a.example.com", audiences: ["bookinfo"], jwks: jwksOf(key) }] })], workload, opts())!;
  assert.equal(f.name, "envoy.filters.http.jwt_authn");
  assert.deepEqual(f.typed_config, {
    "@type": JWT_AUTHN_TYPE_URL,
    providers: {
      "origins-0": {
        issuer: "https://a.example.com",
        audiences: ["bookinfo"],
        local_jwks: { inline_string: jwksOf(key) },
        payload_in_metadata: "payload",
        normalize_payload_in_metadata: { space_delimited_claims: ["permission", "scope"] },
      },
    },
    rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements: [{ provider_name: "origins-0" }, { allow_missing: {} }] } } }],
    bypass_cors_preflight: true,
  });
  assert.doesNotThrow(() => overTheWire(f));
});

test("several rules: sorted by issuer, named origins-<i>, Istio's OR-of-AND requirement", () => {
  const objs = [
    ra("b", { jwtRules: [{ issuer: "zeta", jwks: jwksOf(key) }] }),
    ra("a", { jwtRules: [{ issuer: "alpha", jwks: jwksOf(key) }, { issuer: "mid", jwks: jwksOf(key) }] }, "istio-system"),
  ];
  const f = jwtAuthnFilter(objs, workload, opts())!;
  const cfgObj = f.typed_config as unknown as { providers: Record<string, { issuer: string }>; rules: { requires: unknown }[] };
  assert.deepEqual(Object.entries(cfgObj.providers).map(([n, p]) => [n, p.issuer]), [["origins-0", "alpha"], ["origins-1", "mid"], ["origins-2", "zeta"]]);
  const opt = (n: string) => ({ requires_any: { requirements: [{ provider_name: n }, { allow_missing: {} }] } });
  assert.deepEqual(cfgObj.rules[0]!.requires, {
    requires_any: {
      requirements: [
        { provider_name: "origins-0" }, { provider_name: "origins-1" }, { provider_name: "origins-2" },
        { requires_all: { requirements: [opt("origins-0"), opt("origins-1"), opt("origins-2")] } },
      ],
    },
  });
  assert.doesNotThrow(() => overTheWire(f));
});

test("token locations and outputs map to Envoy's fields", () => {
  const f = jwtAuthnFilter([ra("jwt", {
    jwtRules: [{
      issuer: "i", jwks: jwksOf(key), forwardOriginalToken: true, outputPayloadToHeader: "x-jwt-payload",
      fromHeaders: [{ name: "x-jwt", prefix: "Token " }, { name: "x-raw" }], fromParams: ["jwt"], fromCookies: ["session"],
      outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }], spaceDelimitedClaims: ["roles"],
    }],
  })], workload, opts())!;
  const p = (f.typed_config as unknown as { providers: Record<string, Record<string, unknown>> }).providers["origins-0"]!;
  assert.equal(p.forward, true);
  assert.equal(p.forward_payload_header, "x-jwt-payload");
  assert.deepEqual(p.from_headers, [{ name: "x-jwt", value_prefix: "Token " }, { name: "x-raw" }]);
  assert.deepEqual(p.from_params, ["jwt"]);
  assert.deepEqual(p.from_cookies, ["session"]);
  assert.deepEqual(p.claim_to_headers, [{ header_name: "x-sub", claim_name: "sub" }]);
  assert.deepEqual(p.normalize_payload_in_metadata, { space_delimited_claims: ["permission", "roles", "scope"] });
  assert.doesNotThrow(() => overTheWire(f));
});

test("keys: inline first, else the fetched jwksUri or discovery document, else a JWKS that verifies nothing", () => {
  const asked: string[] = [];
  const fetched = jwksOf(key);
  const lookup: JwksLookup = (uri) => {
    asked.push(uri);
    if (uri === "https://keys.example.com/jwks.json") return { jwks: fetched };
    if (uri === "https://broken.example.com/jwks") return { error: "HTTP 500" };
    return undefined;
  };
  const keysOf = (rule: Record<string, unknown>) => {
    const f = jwtAuthnFilter([ra("jwt", { jwtRules: [rule] })], workload, opts(lookup))!;
    return ((f.typed_config as unknown as { providers: Record<string, { local_jwks: { inline_string: string } }> }).providers["origins-0"]!).local_jwks.inline_string;
  };
  assert.equal(keysOf({ issuer: "i", jwks: fetched, jwksUri: "https://ignored.example.com/k" }), fetched);
  assert.deepEqual(asked, [], "inline keys need no fetch");
  assert.equal(keysOf({ issuer: "i", jwksUri: "https://keys.example.com/jwks.json" }), fetched);
  const broken = keysOf({ issuer: "i", jwksUri: "https://broken.example.com/jwks" });
  const pending = keysOf({ issuer: "https://idp.example.com/", audiences: [] });
  assert.deepEqual(asked.slice(1), ["https://broken.example.com/jwks", "https://idp.example.com/.well-known/openid-configuration"]);
  for (const k of [broken, pending]) assert.ok(looksLikeJwks(k) && k !== fetched);
  assert.equal(broken, unverifiableJwks("https://broken.example.com/jwks"), "deterministic: an unchanged failure changes nothing");
  assert.ok(looksLikeJwks(keysOf({ issuer: "i", jwks: "{not json" })), "an invalid inline JWKS never reaches the proxy");
  assert.equal(discoveryUrl("not-a-url"), undefined);
});

test("through the wire into the proxy: a good token passes; with unavailable keys it fails closed", async () => {
  const rule = { issuer: "https://a.example.com", jwksUri: "https://a.example.com/jwks" };
  const token = await key.sign({ iss: "https://a.example.com", sub: "alice", exp: nowSeconds() + 600 });
  const run = (lookup: JwksLookup, headers: Record<string, string>) => {
    const f = jwtAuthnFilter([ra("jwt", { jwtRules: [rule] })], workload, opts(lookup))!;
    return verifyRequestSync(compileJwtAuthn(overTheWire(f), "typed_config"), { headers: { ...headers }, path: "/" });
  };
  const good = run(() => ({ jwks: jwksOf(key) }), { authorization: `Bearer ${token}` });
  assert.equal(good.ok, true);
  assert.equal((good as { metadata: Record<string, any> }).metadata.istio_authn["request.auth.principal"], "https://a.example.com/alice");
  for (const lookup of [noKeys, (() => ({ error: "down" })) as JwksLookup]) {
    const out = run(lookup, { authorization: `Bearer ${token}` });
    assert.deepEqual(out.ok ? "passed" : out.status, 401);
    assert.deepEqual(run(lookup, {}), { ok: true }, "no token still passes");
  }
});

test("jwksSourcesInUse lists every URI the cache should keep", () => {
  const objs = [
    ra("a", { jwtRules: [{ issuer: "i", jwksUri: "https://k/1" }, { issuer: "https://idp.example.com" }, { issuer: "j", jwks: jwksOf(key) }] }),
    ra("b", { jwtRules: [{ issuer: "x", jwksUri: "https://k/2" }] }, "elsewhere"),
  ];
  assert.deepEqual([...jwksSourcesInUse(objs)].sort(), ["https://idp.example.com/.well-known/openid-configuration", "https://k/1", "https://k/2"]);
});
