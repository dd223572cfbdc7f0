// Token issuers for end-to-end tests: a signing key, its public JWKS, and tokens signed with
// jose (an implementation independent of the proxy's verifier).
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

export interface TestIssuer {
  issuer: string;
  kid: string;
  alg: "RS256" | "ES256";
  /** The public key as a JWK (kid and alg set). */
  jwk: JWK;
  /** {"keys":[jwk]} as text. */
  jwks(): string;
  /** A token with iss, sub, iat, exp (1 h) unless `claims` overrides them; `kid` overrides the header's. */
  sign(claims?: Record<string, unknown>, opts?: { kid?: string }): Promise<string>;
}

export async function makeIssuer(issuer: string, alg: "RS256" | "ES256", kid: string): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return {
    issuer,
    kid,
    alg,
    jwk,
    jwks: () => JSON.stringify({ keys: [jwk] }),
    sign: (claims = {}, opts = {}) => signWith(privateKey, alg, opts.kid ?? kid, { iss: issuer, sub: "alice", ...claims }),
  };
}

async function signWith(key: CryptoKey, alg: string, kid: string, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + 3600, ...claims }).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(key);
}
