// Test support: key pairs, signed tokens and JwtAuthentication configs shaped as istiod (and
// Mizzen's translator) emit them. Not used by production code.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

export interface TestKey {
  alg: string;
  kid: string;
  jwk: JWK;
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function testKey(alg: string, kid: string, opts?: { crv?: string }): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(opts?.crv ? { crv: opts.crv } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return {
    alg,
    kid,
    jwk,
    sign: (payload, header) => new SignJWT(payload).setProtectedHeader({ alg, kid, typ: "JWT", ...header }).sign(privateKey),
  };
}

export function jwksOf(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Istio's requirement for its providers: a token, if present, must verify; none is fine. */
export function istioRequirement(names: string[]): Record<string, unknown> {
  const optional = (n: string) => ({ requires_any: { requirements: [{ provider_name: n }, { allow_missing: {} }] } });
  if (names.length === 1) return optional(names[0]!);
  return {
    requires_any: {
      requirements: [...names.map((n) => ({ provider_name: n })), { requires_all: { requirements: names.map(optional) } }],
    },
  };
}

export function istioConfig(providers: Record<string, Record<string, unknown>>): Record<string, unknown> {
  return {
    providers,
    rules: [{ match: { prefix: "/" }, requires: istioRequirement(Object.keys(providers)) }],
    bypass_cors_preflight: true,
  };
}
