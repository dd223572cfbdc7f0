// The lean client over mesh mTLS: the pool's TLS options carry the identity check, new
// connections resume the previous TLS session, and a failed handshake is a connect failure
// with a TLS_error detail.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { once } from "node:events";
import type net from "node:net";
import type tls from "node:tls";
import type { EndpointAddress } from "../../state/types.ts";
import { certificateFor, PRODUCTPAGE, RATINGS_ID, REVIEWS, REVIEWS_ID, startTestCa } from "../../identity/test-kit.ts";
import { clientTlsOptions, ISTIO_MTLS_ALPN_HTTP11, peerPrincipal, serverTlsOptions } from "../../identity/tls-contexts.ts";
import { H1Pool } from "./pool.ts";
import { LeanAttempt } from "./lean-attempt.ts";

type Outcome = { status: number; body: string; principal: string | undefined } | { failure: string; detail: string };

function send(pool: H1Pool, port: number, maxRequestsPerConnection = 0): Promise<Outcome> {
  const ep = { host: "127.0.0.1", port, key: `127.0.0.1:${port}`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined } as EndpointAddress;
  return new Promise((resolve) => {
    new LeanAttempt({ endpoint: ep, method: "GET", path: "/", headers: { host: "reviews" }, pool, tls: true, connectTimeoutMs: 5000, body: undefined, maxRequestsPerConnection }, {
      onResponse: (res) => {
        let body = "";
        const principal = peerPrincipal(res.socket as tls.TLSSocket); // read at the head, as forward.ts does
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, principal }));
      },
      onFailure: (kind, detail) => resolve({ failure: kind, detail }),
    });
  });
}

async function mtlsServer(t: TestContext) {
  const ca = await startTestCa(t);
  const serverCert = await certificateFor(t, ca, REVIEWS);
  const clientCert = await certificateFor(t, ca, PRODUCTPAGE);
  // Each answer says whether the connection resumed a TLS session.
  const server = https.createServer(serverTlsOptions(serverCert, { mode: "ISTIO_MUTUAL" }), (req, res) => {
    res.end((req.socket as tls.TLSSocket).isSessionReused() ? "resumed" : "full");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, clientCert };
}

test("mTLS through the pool: identity checked, keep-alive, and new connections resume the session", async (t) => {
  const { port, clientCert } = await mtlsServer(t);
  const pool = new H1Pool({ tls: clientTlsOptions(clientCert, { expectedSans: [REVIEWS_ID], alpn: ISTIO_MTLS_ALPN_HTTP11 }) });
  t.after(() => pool.destroyAll());
  // One request per connection: each request is a new handshake.
  const first = await send(pool, port, 1);
  assert.deepEqual(first, { status: 200, body: "full", principal: REVIEWS_ID });
  // A resumed TLS 1.3 session does not show the peer certificate again (Node's https.Agent
  // behaves the same), so only the resumption is checked here.
  const second = await send(pool, port, 1);
  assert.ok("status" in second && second.status === 200 && second.body === "resumed", JSON.stringify(second));
  // Keep-alive: without a per-connection limit the next two share one connection.
  const third = await send(pool, port);
  const fourth = await send(pool, port);
  assert.ok("body" in third && "body" in fourth, JSON.stringify([third, fourth]));
  assert.equal(pool.size, 1);
});

test("a server with the wrong identity is a connect failure with a TLS_error detail", async (t) => {
  const { port, clientCert } = await mtlsServer(t);
  const pool = new H1Pool({ tls: clientTlsOptions(clientCert, { expectedSans: [RATINGS_ID] }) });
  t.after(() => pool.destroyAll());
  const r = await send(pool, port);
  assert.ok("failure" in r, JSON.stringify(r));
  assert.equal(r.failure, "connect-failure");
  assert.match(r.detail, /^TLS_error:/);
  while (pool.size > 0) await new Promise((resolve) => setTimeout(resolve, 5)); // the failed socket leaves the pool
});
