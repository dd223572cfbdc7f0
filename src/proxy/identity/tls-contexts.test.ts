import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { workloadIdentity } from "../../ca/identity.ts";
import { tempDir } from "../../ca/test-kit.ts";
import { certificateFor, PRODUCTPAGE, PRODUCTPAGE_ID, RATINGS_ID, REVIEWS, REVIEWS_ID, startTestCa } from "./test-kit.ts";
import { clientTlsOptions, isTlsClientHello, ISTIO_MTLS_ALPN_H2, ISTIO_MTLS_ALPN_HTTP11, peerPrincipal, secureContextFor, selectServerAlpn, serverTlsOptions } from "./tls-contexts.ts";
import type { WorkloadCertificate } from "./validate-chain.ts";

type T = { after: (fn: () => void | Promise<void>) => void };

interface MtlsServer {
  port: number;
  clientErrors: Error[];
  /** Connections that reached the application. */
  served: number;
}

/** A server from serverTlsOptions that greets each client with the principal it verified. */
async function greetingServer(t: T, cert: WorkloadCertificate): Promise<MtlsServer> {
  const state: MtlsServer = { port: 0, clientErrors: [], served: 0 };
  const srv = tls.createServer(serverTlsOptions(cert, { mode: "ISTIO_MUTUAL" }), (s) => {
    state.served++;
    s.end(`hello ${peerPrincipal(s) ?? "nobody"} over ${s.alpnProtocol || "no-alpn"}\n`);
  });
  srv.on("tlsClientError", (e) => state.clientErrors.push(e));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  state.port = (srv.address() as net.AddressInfo).port;
  return state;
}

interface Outcome {
  data: string;
  error?: Error & { code?: string };
  peer?: string;
  alpn?: string | false | null;
}

/** Connects, reads until the server closes; never rejects (the outcome says what happened). */
function talk(port: number, opts: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { data: "" };
    const s = tls.connect({ ...opts, host: "127.0.0.1", port }, () => {
      out.peer = peerPrincipal(s);
      out.alpn = s.alpnProtocol;
    });
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out.data += d));
    s.on("error", (e) => (out.error = e));
    s.on("close", () => resolve(out));
  });
}

async function waitForClientError(server: MtlsServer): Promise<Error> {
  for (let i = 0; i < 250 && server.clientErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(server.clientErrors.length > 0, "the server reported the refused handshake");
  return server.clientErrors[server.clientErrors.length - 1]!;
}

async function meshOf(t: T) {
  const mesh = await startTestCa(t);
  const [reviews, productpage] = await Promise.all([certificateFor(t, mesh, REVIEWS), certificateFor(t, mesh, PRODUCTPAGE)]);
  return { mesh, reviews, productpage };
}

test("mTLS between two workload identities: each side verifies the other and knows its SPIFFE ID; ALPN as Istio peers expect", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const server = await greetingServer(t, reviews);

  const ok = await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["h2", "http/1.1"] }));
  assert.equal(ok.error, undefined);
  assert.equal(ok.data, `hello ${PRODUCTPAGE_ID} over h2\n`, "the server verified the client's identity");
  assert.equal(ok.peer, REVIEWS_ID, "the client verified the server's identity");

  // What Istio sidecars offer in the mesh: the plain protocol is selected, as Istio's inbound does.
  assert.match((await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ISTIO_MTLS_ALPN_HTTP11 }))).data, /over http\/1\.1\n$/);
  assert.equal(selectServerAlpn({ protocols: [...ISTIO_MTLS_ALPN_H2] }), "h2");
  // Older sidecars (and TCP with metadata exchange) name no HTTP protocol: "istio" is selected.
  assert.match((await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["istio-peer-exchange", "istio"] }))).data, /over istio\n$/);
  assert.match((await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["http/1.1"] }))).data, /over http\/1\.1\n$/);
  assert.match((await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID] }))).data, /over no-alpn\n$/);
  const unknownAlpn = await talk(server.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["spdy/3"] }));
  assert.match(String(unknownAlpn.error?.message), /no application protocol/);
  // No SANs to match: any certificate of the mesh is accepted (Envoy without match_subject_alt_names).
  assert.equal((await talk(server.port, clientTlsOptions(productpage, { expectedSans: [] }))).peer, REVIEWS_ID);
});

test("a server presenting another identity is refused, naming what was expected and what was presented", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const server = await greetingServer(t, reviews);
  const details = "spiffe://cluster.local/ns/bookinfo/sa/details";
  const out = await talk(server.port, clientTlsOptions(productpage, { expectedSans: [RATINGS_ID, details] }));
  assert.equal(out.error?.code, "MIZZEN_E_TLS_SAN_MISMATCH");
  assert.match(out.error!.message, new RegExp(`presented "${REVIEWS_ID}" but one of "${RATINGS_ID}", "${details}" was expected`));
  assert.equal(out.data, "");
});

test("the server refuses a client without a certificate and a client whose certificate is from another CA", async (t) => {
  const { mesh, reviews, productpage } = await meshOf(t);
  const server = await greetingServer(t, reviews);

  const anonymous = await talk(server.port, { ca: mesh.rootPem, checkServerIdentity: () => undefined });
  assert.equal(anonymous.data, "", "nothing is served to a client without a certificate");
  assert.match((await waitForClientError(server)).message, /peer did not return a certificate/);

  const otherMesh = await startTestCa(t);
  const intruder = await certificateFor(t, otherMesh, PRODUCTPAGE);
  assert.equal(intruder.spiffeId, PRODUCTPAGE_ID, "same SPIFFE ID, other root");
  server.clientErrors.length = 0;
  const servedBefore = server.served;
  const forged = await talk(server.port, { key: intruder.keyPem, cert: intruder.certChainPem, ca: mesh.rootPem, checkServerIdentity: () => undefined });
  assert.equal(forged.data, "");
  // Node's tls.Server drops such a socket after the handshake without telling why ("socket hang up").
  await waitForClientError(server);
  assert.equal(server.served, servedBefore, "the application never saw the connection");

  // And the other way round: our client refuses a server of the other mesh on its chain, before any SAN check.
  const foreign = await greetingServer(t, await certificateFor(t, otherMesh, REVIEWS));
  const out = await talk(foreign.port, clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID] }));
  assert.ok(out.error && out.error.code !== "MIZZEN_E_TLS_SAN_MISMATCH", `a chain error, got ${out.error?.code}`);
  assert.equal(out.peer, undefined);
});

function run(cmd: string, args: string[], input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin?.end(input);
  });
}

test("openssl s_client: refused without a certificate, accepted with a mesh certificate, and it sees the server's SPIFFE ID", async (t) => {
  const { mesh, reviews } = await meshOf(t);
  const server = await greetingServer(t, reviews);
  // A test client's key for openssl, not a sidecar's: openssl reads keys from files.
  const ratings = await certificateFor(t, mesh, workloadIdentity("cluster.local", "bookinfo", "ratings"));
  const dir = tempDir(t, "mizzen-identity-openssl-");
  writeFileSync(join(dir, "root.pem"), mesh.rootPem);
  writeFileSync(join(dir, "client.pem"), ratings.certChainPem);
  writeFileSync(join(dir, "client-key.pem"), ratings.keyPem, { mode: 0o600 });
  const base = ["s_client", "-connect", `127.0.0.1:${server.port}`, "-CAfile", join(dir, "root.pem"), "-verify_return_error", "-ign_eof"];

  const refused = await run("openssl", base);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /alert certificate required|handshake failure/);
  assert.doesNotMatch(refused.stdout, /hello spiffe/);

  // (s_client exits 1 on "unexpected eof": Node closes TCP without a close_notify after end().)
  const accepted = await run("openssl", [...base, "-cert", join(dir, "client.pem"), "-key", join(dir, "client-key.pem"), "-alpn", "h2,http/1.1"]);
  assert.match(accepted.stdout, /Verification: OK/);
  assert.match(accepted.stdout, /ALPN protocol: h2/);
  assert.match(accepted.stdout, new RegExp(`hello ${RATINGS_ID} over h2`));
  const serverCert = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(accepted.stdout)?.[0];
  assert.ok(serverCert, "s_client printed the server certificate");
  const san = await run("openssl", ["x509", "-noout", "-ext", "subjectAltName"], serverCert);
  assert.match(san.stdout, new RegExp(`URI:${REVIEWS_ID}`));
  assert.doesNotMatch(san.stdout, /DNS:/, "a sidecar certificate has no DNS name");
});

test("contexts and options are built once per certificate; the frozen options work with tls.connect, setSecureContext and a PERMISSIVE sniff", async (t) => {
  const { mesh, reviews, productpage } = await meshOf(t);
  const sOpts = serverTlsOptions(reviews, { mode: "ISTIO_MUTUAL" });
  assert.equal(serverTlsOptions(reviews, { mode: "ISTIO_MUTUAL" }), sOpts);
  assert.equal(sOpts.secureContext, undefined, "a tls.Server ignores it; a bare TLSSocket must not be used");
  assert.equal(sOpts.requestCert, true);
  assert.equal(sOpts.minVersion, "TLSv1.2");
  const cOpts = clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["h2"] });
  assert.equal(clientTlsOptions(productpage, { expectedSans: [REVIEWS_ID], alpn: ["h2"] }), cOpts);
  assert.notEqual(clientTlsOptions(productpage, { expectedSans: [RATINGS_ID], alpn: ["h2"] }), cOpts);
  assert.equal(cOpts.secureContext, secureContextFor(productpage));
  const other = await certificateFor(t, mesh, REVIEWS);
  assert.notEqual(secureContextFor(other), secureContextFor(reviews), "a new certificate gets a new context");
  assert.throws(() => clientTlsOptions(productpage, { expectedSans: [""] }), /MIZZEN_E_IDENTITY_CONFIG.*non-empty strings/);
  assert.throws(() => serverTlsOptions(reviews, { mode: "SIMPLE" as "ISTIO_MUTUAL" }), /not supported/);

  // PERMISSIVE: one port, TLS or plaintext decided by the first bytes of each connection; TLS
  // goes to a tls.Server that never listens (it is the one that checks client chains).
  let counted = 0;
  const secureSide = tls.createServer(sOpts, (secure) => {
    const original = secure.getPeerX509Certificate.bind(secure);
    secure.getPeerX509Certificate = () => (counted++, original());
    const a = peerPrincipal(secure);
    const b = peerPrincipal(secure);
    secure.end(`mtls ${a} ${a === b}\n`);
  });
  secureSide.on("tlsClientError", () => {});
  const srv = net.createServer((sock) => {
    sock.once("data", (first: Buffer) => {
      sock.pause();
      if (!isTlsClientHello(first)) {
        sock.end(`plaintext ${first.toString("latin1").split("\r\n")[0]}\n`);
        return;
      }
      sock.unshift(first);
      secureSide.emit("connection", sock);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as net.AddressInfo).port;

  const viaTls = await new Promise<string>((resolve, reject) => {
    let data = "";
    // The three-argument form: our frozen object is used as is, not spread.
    const s = tls.connect(port, "127.0.0.1", cOpts);
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("error", reject);
    s.on("close", () => resolve(data));
  });
  assert.equal(viaTls, `mtls ${PRODUCTPAGE_ID} true\n`);
  assert.equal(counted, 1, "the peer's certificate was read once for two peerPrincipal calls");
  const plain = await new Promise<string>((resolve) => {
    let data = "";
    const s = net.connect(port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("close", () => resolve(data));
  });
  assert.equal(plain, "plaintext GET / HTTP/1.1\n");
  const intruder = await certificateFor(t, await startTestCa(t), PRODUCTPAGE);
  const forged = await talk(port, { key: intruder.keyPem, cert: intruder.certChainPem, ca: mesh.rootPem, checkServerIdentity: () => undefined });
  assert.equal(forged.data, "", "a client certificate of another CA is refused on the sniffed path too");

  // tls.Server.setSecureContext takes the same frozen object.
  const rotating = tls.createServer(serverTlsOptions(reviews, { mode: "ISTIO_MUTUAL" }), (s) => s.end(`${s.getX509Certificate()?.serialNumber.toLowerCase()}\n`));
  rotating.setSecureContext(serverTlsOptions(other, { mode: "ISTIO_MUTUAL" }));
  await new Promise<void>((r) => rotating.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => rotating.close(() => r())));
  const served = await talk((rotating.address() as net.AddressInfo).port, cOpts);
  assert.equal(served.data, `${other.serial.toLowerCase()}\n`);
});

test("isTlsClientHello: a real ClientHello yes; HTTP/1.1, the HTTP/2 preface and short reads no", async (t) => {
  const first = await new Promise<Buffer>((resolve) => {
    const srv = net.createServer((sock) => {
      sock.once("data", (d: Buffer) => {
        resolve(d);
        sock.destroy();
        srv.close();
      });
    });
    srv.listen(0, "127.0.0.1", () => {
      const c = tls.connect({ host: "127.0.0.1", port: (srv.address() as net.AddressInfo).port, rejectUnauthorized: false, servername: "reviews.bookinfo" });
      c.on("error", () => {});
    });
  });
  t.diagnostic(`ClientHello starts ${first.subarray(0, 6).toString("hex")}`);
  assert.equal(isTlsClientHello(first), true);
  assert.equal(isTlsClientHello(first.subarray(0, 3)), true, "three bytes are enough");
  assert.equal(isTlsClientHello(first.subarray(0, 2)), false);
  assert.equal(isTlsClientHello(Buffer.from("GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")), false);
  assert.equal(isTlsClientHello(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), false);
  assert.equal(isTlsClientHello(Buffer.from([0x16, 0x03, 0x05, 0x00, 0x10, 0x01])), false, "no such TLS version");
  assert.equal(isTlsClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, 0x02])), false, "a ServerHello, not a ClientHello");
  assert.equal(isTlsClientHello(Buffer.from([0x17, 0x03, 0x03])), false, "application data");
  assert.equal(isTlsClientHello(Buffer.alloc(0)), false);
});
