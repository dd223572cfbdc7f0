// RequestAuthentication and AuthorizationPolicy through real secure sidecars, in process:
//   - issuer A (RS256) publishes its keys on a local JWKS server (jwksUri): the control plane
//     fetches them and inlines them for the proxy; issuer B (ES256) has inline jwks and
//     forwardOriginalToken;
//   - the policy: /public for anyone, /secure for any request principal of A or B, /admin
//     only with the claim groups=admins;
//   - a bad token is answered 401 (403 for a wrong audience) with Envoy's wording, before
//     the application sees anything; a good token's header is removed unless forwarded, and
//     outputPayloadToHeader carries the payload to the application.
//   - issuer A rotating its key at the JWKS server reaches the proxy at the next refresh
//     (shortened here with jwksRefreshMs): new tokens pass, tokens of the retired key fail.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeIssuer, type TestIssuer } from "../support/jwt-issuer.ts";
import { listeningPort, startApp, startSecureControl, startSecureSidecar, type Sidecar } from "../support/secure-mesh.ts";
import { viaProxy, waitFor, type Reply } from "../support/http.ts";

const API_IP = "127.125.1.1";
const API_APP = "127.125.2.1";
const CLIENT_IP = "127.125.1.2";
const APP_PORT = 8080;
const ISSUER_A = "https://issuer-a.test";
const ISSUER_B = "issuer-b.test";
const AUDIENCE = "api.example";

const dir = mkdtempSync(join(tmpdir(), "mizzen-jwt-"));
const configDir = join(dir, "config");
mkdirSync(configDir);
const cleanups: (() => Promise<unknown> | void)[] = [];
let a: TestIssuer;
let b: TestIssuer;
let api: Sidecar;
let jwksFetches = 0;
/** What the JWKS server publishes for issuer A (swapped by the rotation test). */
let publishedA: () => string;

function policies(jwksUri: string): string {
  return `apiVersion: v1
kind: Service
metadata: { name: api }
spec:
  selector: { app: api }
  ports: [{ name: http, port: ${APP_PORT} }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: api-jwt }
spec:
  selector: { matchLabels: { app: api } }
  jwtRules:
    - issuer: ${ISSUER_A}
      jwksUri: ${jwksUri}
      audiences: [${AUDIENCE}]
      outputPayloadToHeader: x-jwt-payload
    - issuer: ${ISSUER_B}
      jwks: '${b.jwks()}'
      forwardOriginalToken: true
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: api-access }
spec:
  selector: { matchLabels: { app: api } }
  action: ALLOW
  rules:
    - to: [{ operation: { paths: ["/public*"] } }]
    - from: [{ source: { requestPrincipals: ["${ISSUER_A}/*", "${ISSUER_B}/*"] } }]
      to: [{ operation: { paths: ["/secure*"] } }]
    - to: [{ operation: { paths: ["/admin*"] } }]
      when: [{ key: "request.auth.claims[groups]", values: ["admins"] }]
`;
}

before(async () => {
  a = await makeIssuer(ISSUER_A, "RS256", "a-key-1");
  b = await makeIssuer(ISSUER_B, "ES256", "b-key-1");
  publishedA = () => a.jwks();
  const jwksServer = await startApp("127.0.0.1", 0, (_req, res) => {
    jwksFetches++;
    res.setHeader("content-type", "application/json");
    res.end(publishedA());
  });
  cleanups.push(() => jwksServer.close());
  writeFileSync(join(configDir, "mesh.yaml"), policies(`http://127.0.0.1:${listeningPort(jwksServer.server)}/jwks.json`));

  const control = await startSecureControl({ configDir, dataDir: join(dir, "data"), jwksRefreshMs: 500 });
  cleanups.push(() => control.cp.close());
  // The application answers what reached it: the path and the headers the filters manage.
  const app = await startApp(API_APP, APP_PORT, (req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ path: req.url, authorization: req.headers.authorization ?? null, payload: req.headers["x-jwt-payload"] ?? null }));
  });
  cleanups.push(() => app.close());
  api = await startSecureSidecar(control, { ip: API_IP, name: "api", ports: `http:${APP_PORT}`, appAddress: API_APP });
  cleanups.push(() => api.close());
  const client = await startSecureSidecar(control, { ip: CLIENT_IP, name: "client", ports: "", appAddress: "127.125.2.2" });
  cleanups.push(() => client.close());
  await waitFor("the api reachable through the client's sidecar", async () => (await get("/public/ready")).status === 200, 20_000);
  // Until the control plane has fetched issuer A's keys the proxy holds keys nobody has.
  const good = await a.sign({ aud: AUDIENCE });
  await waitFor("issuer A's keys fetched and pushed", async () => (await get("/secure/warmup", good)).status === 200, 20_000);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, token?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return viaProxy(CLIENT_IP, 15001, `http://api:${APP_PORT}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

function seen(r: Reply): { path: string; authorization: string | null; payload: string | null } {
  assert.equal(r.status, 200, `expected the application's answer, got ${r.status} ${r.body}`);
  return JSON.parse(r.body) as { path: string; authorization: string | null; payload: string | null };
}

test("without a token: public paths pass, /secure is denied by the policy", async () => {
  assert.equal(seen(await get("/public/x")).path, "/public/x");
  const denied = await get("/secure/x");
  assert.equal(denied.status, 403);
  assert.equal(denied.body, "RBAC: access denied");
  assert.equal(jwksFetches >= 1, true, "the control plane fetched the JWKS, not the proxy (it has no route to fetch it)");
});

test("a valid token from the jwksUri issuer opens /secure; its header is removed and the payload forwarded", async () => {
  const token = await a.sign({ aud: AUDIENCE, groups: ["users"] });
  const app = seen(await get("/secure/a", token));
  assert.equal(app.path, "/secure/a");
  assert.equal(app.authorization, null, "the token is removed before the application (no forwardOriginalToken)");
  assert.equal(app.payload, token.split(".")[1], "outputPayloadToHeader carries the payload as sent (base64url)");
  const claims = JSON.parse(Buffer.from(app.payload!, "base64url").toString("utf8")) as { iss: string; sub: string };
  assert.deepEqual([claims.iss, claims.sub], [ISSUER_A, "alice"]);
});

test("a valid token from the inline-jwks issuer opens /secure and is forwarded (forwardOriginalToken)", async () => {
  const token = await b.sign();
  const app = seen(await get("/secure/b", token));
  assert.equal(app.authorization, `Bearer ${token}`);
  assert.equal(app.payload, null, "issuer B has no outputPayloadToHeader");
});

test("a client cannot forge the payload header", async () => {
  assert.equal(seen(await get("/public/forged", undefined, { "x-jwt-payload": "eyJzdWIiOiJhZG1pbiJ9" })).payload, null);
});

test("request.auth.claims[groups] decides /admin", async () => {
  assert.equal(seen(await get("/admin/1", await a.sign({ aud: AUDIENCE, groups: ["users", "admins"] }))).path, "/admin/1");
  const users = await get("/admin/1", await a.sign({ aud: AUDIENCE, groups: ["users"] }));
  assert.equal(users.status, 403);
  assert.equal(users.body, "RBAC: access denied");
  assert.equal((await get("/admin/1")).status, 403, "no token, no claims");
});

test("bad tokens are refused with Envoy's reasons before the application", async () => {
  const now = Math.floor(Date.now() / 1000);
  const stranger = await makeIssuer(ISSUER_A, "RS256", a.kid); // same issuer and kid, another key
  const cases: [string, string, number, string][] = [
    ["expired", await a.sign({ aud: AUDIENCE, iat: now - 7200, exp: now - 3600 }), 401, "Jwt is expired"],
    ["wrong issuer", await a.sign({ aud: AUDIENCE, iss: "https://evil.test" }), 401, "Jwt issuer is not configured"],
    // Envoy answers a wrong audience with 403, not 401 (JwtAudienceNotAllowed).
    ["wrong audience", await a.sign({ aud: "someone-else" }), 403, "Audiences in Jwt are not allowed"],
    ["unknown kid", await a.sign({ aud: AUDIENCE }, { kid: "a-key-unknown" }), 401, "Jwks doesn't have key to match kid or alg from Jwt"],
    ["bad signature", await stranger.sign({ aud: AUDIENCE }), 401, "Jwt verification fails"],
    ["garbage", "not-a-jwt", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
  ];
  for (const [what, token, status, reason] of cases) {
    for (const path of ["/public/x", "/secure/x"]) {
      const r = await get(path, token);
      assert.equal(r.status, status, `${what} on ${path}: ${r.status} ${r.body}`);
      assert.equal(r.body, reason, `${what} on ${path}`);
      assert.match(String(r.headers["www-authenticate"]), new RegExp(`^Bearer realm="http://api:${APP_PORT}${path}", error="invalid_token"$`), what);
    }
  }
  assert.ok((await api.stat("jwt_authn.denied.JwtExpired")) >= 2);
  assert.ok((await api.stat("jwt_authn.denied.JwtVerificationFail")) >= 2);
});

test("the checks ran behind mesh TLS; a caller without a sidecar is checked the same way", async () => {
  assert.ok((await api.stat("downstream_cx_ssl_total")) >= 1, "client sidecar -> api sidecar was mutual TLS");
  const direct = await new Promise<number>((resolve) => {
    // PERMISSIVE (no PeerAuthentication): a plaintext caller without a sidecar is still checked.
    http.get({ host: API_IP, port: APP_PORT, path: "/secure/direct", headers: { authorization: "Bearer not-a-jwt" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", () => resolve(-1));
  });
  assert.equal(direct, 401);
});

test("issuer A rotates its key: after the control plane's refresh new tokens pass and the retired key's fail", async () => {
  const oldToken = await a.sign({ aud: AUDIENCE });
  assert.equal((await get("/secure/before-rotation", oldToken)).status, 200);
  const next = await makeIssuer(ISSUER_A, "RS256", "a-key-2");
  publishedA = () => next.jwks();
  const newToken = await next.sign({ aud: AUDIENCE });
  await waitFor("the new key pushed to the proxy", async () => (await get("/secure/after-rotation", newToken)).status === 200, 20_000);
  const old = await get("/secure/old-key", oldToken);
  assert.equal(old.status, 401);
  assert.match(old.body, /Jwks doesn't have key to match kid or alg from Jwt|Jwt verification fails/);
});
