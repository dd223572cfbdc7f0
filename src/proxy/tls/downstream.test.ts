// Inbound mTLS with real sockets on 127.0.0.1 and certificates from a real mesh CA: the first
// byte picks TLS or plaintext, STRICT refuses plaintext, PERMISSIVE serves both, and every bad
// client is closed with a counted reason while the process carries on.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { workloadIdentity } from "../../ca/identity.ts";
import { loadOrCreateSelfSignedRoot, type SigningCa } from "../../ca/root.ts";
import { signCsr } from "../../ca/sign.ts";
import { tempDir } from "../../ca/test-kit.ts";
import type { FilterChain, Listener, TransportSocket } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import { captureLogs, PRODUCTPAGE, PRODUCTPAGE_ID, RATINGS_ID, REVIEWS, REVIEWS_ID, waitFor } from "../identity/test-kit.ts";
import { parseTrustBundle, validateIssuedChain, type WorkloadCertificate } from "../identity/validate-chain.ts";
import { generateWorkloadKey } from "../identity/workload-key.ts";
import { compileListener } from "../state/compile-listener.ts";
import { ProxyStats, rejectedStat } from "../stats.ts";
import { compileUpstreamTls } from "./compile-transport.ts";
import { peerPrincipal, TlsContexts } from "./contexts.ts";
import { clientCertificateFailureReason, DownstreamTls, handshakeFailureReason } from "./downstream.ts";

type T = { after: (fn: () => void | Promise<void>) => void };

// ---- certificates ----

interface Issued { keyPem: string; certPem: string; chainPem: string[] }

async function issue(ca: SigningCa, id = PRODUCTPAGE, opts: { lifetimeSeconds?: number; now?: Date } = {}): Promise<Issued> {
  const key = await generateWorkloadKey("ecdsa-p256");
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: id, ...opts });
  return { keyPem: key.keyPem, certPem: issued.certPem, chainPem: issued.chainPem };
}

async function workloadCert(ca: SigningCa, id = REVIEWS): Promise<WorkloadCertificate> {
  const key = await generateWorkloadKey("ecdsa-p256");
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: id });
  return validateIssuedChain(issued.chainPem, key, parseTrustBundle(ca.rootPem, "root"), new Date());
}

interface Mesh { ca: SigningCa; otherCa: SigningCa; reviews: WorkloadCertificate; productpage: WorkloadCertificate }

let meshPromise: Promise<Mesh> | undefined;
/** One CA and its certificates for the whole file (key generation is the slow part). */
function meshOf(t: T): Promise<Mesh> {
  meshPromise ??= (async () => {
    const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t, "mizzen-downstream-ca-") });
    const otherCa = await loadOrCreateSelfSignedRoot({ dir: tempDir(t, "mizzen-downstream-other-") });
    return { ca, otherCa, reviews: await workloadCert(ca, REVIEWS), productpage: await workloadCert(ca, PRODUCTPAGE) };
  })();
  return meshPromise;
}

// ---- the inbound listener under test ----

const SDS = { api_config_source: { api_type: "GRPC" as const, grpc_services: [{ envoy_grpc: { cluster_name: "sds-grpc" } }] } };
const MESH_SERVER: TransportSocket = {
  name: "envoy.transport_sockets.tls",
  typed_config: {
    "@type": TYPE.downstreamTls,
    require_client_certificate: { value: true },
    common_tls_context: {
      tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
      alpn_protocols: ["h2", "http/1.1"],
    },
  },
};

function chains(mode: "STRICT" | "PERMISSIVE" | "PLAINTEXT_ONLY"): Partial<FilterChain>[] {
  const tlsChain = { name: "tls", filter_chain_match: { transport_protocol: "tls" }, transport_socket: MESH_SERVER };
  const plain = { name: "plaintext", filter_chain_match: { transport_protocol: "raw_buffer" } };
  return mode === "STRICT" ? [tlsChain] : mode === "PERMISSIVE" ? [tlsChain, plain] : [plain];
}

function inboundListener(mode: "STRICT" | "PERMISSIVE" | "PLAINTEXT_ONLY"): Listener {
  const hcm = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": TYPE.hcm,
      stat_prefix: "inbound",
      route_config: { name: "inbound|9080", virtual_hosts: [{ name: "inbound", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "inbound|9080||" } }] }] },
      http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
    },
  };
  return {
    name: `inbound|9080|${mode}`,
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    traffic_direction: "INBOUND",
    listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } }],
    filter_chains: chains(mode).map((c) => ({ filters: [hcm], ...c })),
  };
}

interface Inbound {
  port: number;
  stats: ProxyStats;
  logs: ReturnType<typeof captureLogs>;
  /** What reached the application side: the verified peer, or "plaintext". */
  served: string[];
  /** Replaces the workload certificate (rotation). */
  setCertificate(c: WorkloadCertificate | undefined): void;
}

/** `replyAtEnd`: answer only after the client's FIN, with what it sent (needs a half-open socket). */
async function startInbound(t: T, mode: "STRICT" | "PERMISSIVE" | "PLAINTEXT_ONLY", cert: WorkloadCertificate | undefined, o: { replyAtEnd?: boolean } = {}): Promise<Inbound> {
  const listener = compileListener(inboundListener(mode))!;
  assert.equal(listener.inspectTls, true);
  const stats = new ProxyStats();
  const logs = captureLogs("warn");
  const served: string[] = [];
  let current = cert;
  const dt = new DownstreamTls({
    listener: () => listener,
    certificate: () => current,
    stats,
    logger: logs.logger,
    serve(socket) {
      const who = peerPrincipal(socket) ?? "plaintext";
      served.push(who);
      socket.on("error", () => {});
      if (!o.replyAtEnd) {
        socket.on("data", () => {});
        socket.end(`served ${who}\n`);
        return;
      }
      let got = "";
      socket.on("data", (d: Buffer) => (got += d.toString()));
      // Later, as an answer from upstream would come: a socket that is not half-open is closed by then.
      socket.on("end", () => setTimeout(() => socket.end(`served ${who} after ${JSON.stringify(got)}\n`), 20));
    },
  });
  const sockets = new Set<net.Socket>();
  // allowHalfOpen as the proxy's listeners have it (node:http servers are half-open).
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    dt.accept(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return { port: (server.address() as net.AddressInfo).port, stats, logs, served, setCertificate: (c) => (current = c) };
}

// ---- clients ----

interface Outcome { data: string; error?: NodeJS.ErrnoException; serverId?: string }

/** A TLS client; resolves when the connection closes, never rejects. */
function tlsClient(port: number, opts: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { data: "" };
    const s = tls.connect({ ...opts, host: "127.0.0.1", port }, () => {
      out.serverId = peerPrincipal(s);
    });
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out.data += d));
    s.on("error", (e) => (out.error = e));
    s.on("close", () => resolve(out));
  });
}

/** A TLS client that sends `text`, half-closes, and reads the answer. */
function tlsHalfClose(port: number, opts: tls.ConnectionOptions, text: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { data: "" };
    const s = tls.connect({ ...opts, host: "127.0.0.1", port }, () => s.end(text));
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out.data += d));
    s.on("error", (e) => (out.error = e));
    s.on("close", () => resolve(out));
  });
}

/** A raw TCP client: writes `bytes` (then FIN when `end`), reads until the server closes. */
function rawClient(port: number, bytes: Buffer | string | undefined, o: { end?: boolean; reset?: boolean } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { data: "" };
    const s = net.connect(port, "127.0.0.1", () => {
      if (bytes !== undefined) s.write(bytes);
      if (o.reset) s.resetAndDestroy();
      else if (o.end) s.end();
    });
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out.data += d));
    s.on("error", (e) => (out.error = e));
    s.on("close", () => resolve(out));
  });
}

/** Options of a mesh client: our proxy's own client side (compiled upstream socket + TlsContexts). */
function meshClient(cert: WorkloadCertificate, expectedSan: string): tls.ConnectionOptions {
  const socket: TransportSocket = {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": TYPE.upstreamTls,
      sni: "outbound_.9080_._.reviews.bookinfo.svc.cluster.local",
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }],
        combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ exact: expectedSan }] }, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
        alpn_protocols: ["http/1.1"],
      },
    },
  };
  const result = new TlsContexts({ current: () => cert }).clientOptions(compileUpstreamTls(socket, "c"));
  assert.ok(result.ok);
  return result.options;
}

const GET = "GET / HTTP/1.1\r\nhost: reviews\r\n\r\n";
const counted = (ib: Inbound, reason: string) => ib.stats.get(rejectedStat(reason));
const rejections = (ib: Inbound) => Object.fromEntries(ib.stats.entries().filter(([k]) => k.startsWith("downstream_cx_rejected.")));

async function waitCounted(ib: Inbound, reason: string, n = 1): Promise<void> {
  await waitFor(`${reason} counted (have ${JSON.stringify(rejections(ib))})`, () => counted(ib, reason) >= n);
}

// ---- tests ----

test("STRICT: a plaintext connection is refused (plaintext_on_mtls_port), logged once a minute", async (t) => {
  const { reviews } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  const first = await rawClient(ib.port, GET);
  assert.equal(first.data, "", "nothing reaches the application");
  await waitCounted(ib, "plaintext_on_mtls_port");
  await rawClient(ib.port, GET);
  await waitCounted(ib, "plaintext_on_mtls_port", 2);
  assert.deepEqual(ib.served, []);
  const warnings = ib.logs.lines.filter((l) => l.reason === "plaintext_on_mtls_port");
  assert.equal(warnings.length, 1, "the second refusal is counted, not logged again");
  assert.equal(warnings[0]!.listener, "inbound|9080|STRICT");
  assert.match(String(warnings[0]!.msg), /plaintext connection arrived on a port whose PeerAuthentication requires mTLS \(STRICT\)/);
});

test("STRICT: a mesh client is served; each side sees the other's SPIFFE ID", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  const ok = await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID));
  assert.equal(ok.error, undefined);
  assert.equal(ok.data, `served ${PRODUCTPAGE_ID}\n`, "the server verified the client");
  assert.equal(ok.serverId, REVIEWS_ID, "the client verified the server");
  assert.equal(ib.stats.get("downstream_cx_ssl_total"), 1);
  assert.deepEqual(rejections(ib), {});
});

test("PERMISSIVE: plaintext and mesh TLS on the same port, each served", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "PERMISSIVE", reviews);
  const plain = await rawClient(ib.port, GET);
  assert.equal(plain.data, "served plaintext\n");
  const mtls = await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID));
  assert.equal(mtls.data, `served ${PRODUCTPAGE_ID}\n`);
  assert.deepEqual(ib.served, ["plaintext", PRODUCTPAGE_ID]);
  assert.deepEqual(rejections(ib), {});
});

test("a client without a certificate is refused with a counted reason; the listener keeps serving", async (t) => {
  const { ca, reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "PERMISSIVE", reviews);
  const anon = await tlsClient(ib.port, { ca: ca.rootPem, checkServerIdentity: () => undefined });
  assert.equal(anon.data, "");
  await waitCounted(ib, "tls_no_client_certificate");
  assert.ok(anon.error, "the client learns the handshake failed");
  assert.equal((await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID))).data, `served ${PRODUCTPAGE_ID}\n`);
});

test("a client certificate from another CA is refused (tls_untrusted_client_certificate)", async (t) => {
  const { ca, otherCa, reviews } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  const forged = await issue(otherCa, PRODUCTPAGE);
  const out = await tlsClient(ib.port, { key: forged.keyPem, cert: forged.chainPem.slice(0, -1).join(""), ca: ca.rootPem, checkServerIdentity: () => undefined });
  assert.equal(out.data, "");
  await waitCounted(ib, "tls_untrusted_client_certificate");
  assert.deepEqual(ib.served, []);
});

test("an expired client certificate is refused (tls_expired_client_certificate)", async (t) => {
  const { ca, reviews } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  const expired = await issue(ca, PRODUCTPAGE, { lifetimeSeconds: 60, now: new Date(Date.now() - 2 * 3_600_000) });
  const out = await tlsClient(ib.port, { key: expired.keyPem, cert: expired.certPem, ca: ca.rootPem, checkServerIdentity: () => undefined });
  assert.equal(out.data, "");
  await waitCounted(ib, "tls_expired_client_certificate");
  assert.deepEqual(ib.served, []);
  const logged = ib.logs.lines.find((l) => l.reason === "tls_expired_client_certificate");
  assert.match(String(logged?.msg), /client certificate refused: CERT_HAS_EXPIRED/);
});

test("a truncated ClientHello (0x16 0x03 0x01, then FIN) is counted and nothing breaks", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  const out = await rawClient(ib.port, Buffer.from([0x16, 0x03, 0x01]), { end: true });
  assert.equal(out.data, "");
  await waitFor("a handshake failure counted", () => Object.keys(rejections(ib)).length > 0);
  const reasons = Object.keys(rejections(ib));
  assert.equal(reasons.length, 1, JSON.stringify(rejections(ib)));
  assert.match(reasons[0]!, /^downstream_cx_rejected\.tls_handshake_(aborted|failed)$/);
  // A ClientHello cut short by a reset is no worse.
  await rawClient(ib.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80, 0x01]), { reset: true });
  assert.equal((await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID))).data, `served ${PRODUCTPAGE_ID}\n`);
});

test("a client that connects and leaves without a byte (FIN or reset) causes no error and no refusal", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "PERMISSIVE", reviews);
  const closed = await rawClient(ib.port, undefined, { end: true });
  assert.equal(closed.error, undefined);
  assert.equal(closed.data, "");
  // A reset before the first byte used to be an unhandled socket error: the process ended.
  await rawClient(ib.port, undefined, { reset: true });
  // The listener still serves both transports afterwards, and nothing was counted as refused.
  assert.equal((await rawClient(ib.port, GET)).data, "served plaintext\n");
  assert.equal((await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID))).data, `served ${PRODUCTPAGE_ID}\n`);
  assert.deepEqual(rejections(ib), {});
  assert.deepEqual(ib.served, ["plaintext", PRODUCTPAGE_ID]);
});

test("served connections stay half-open as the listener's are: a client may send FIN and still get its answer", async (t) => {
  const { reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "PERMISSIVE", reviews, { replyAtEnd: true });
  assert.equal((await rawClient(ib.port, "ping", { end: true })).data, 'served plaintext after "ping"\n');
  const out = await tlsHalfClose(ib.port, meshClient(productpage, REVIEWS_ID), "ping");
  assert.equal(out.data, `served ${PRODUCTPAGE_ID} after "ping"\n`);
  assert.deepEqual(rejections(ib), {});
});

test("without a workload certificate a TLS client is refused (no_workload_certificate); plaintext still works on PERMISSIVE", async (t) => {
  const { ca, productpage } = await meshOf(t);
  const ib = await startInbound(t, "PERMISSIVE", undefined);
  const out = await tlsClient(ib.port, { ...meshClient(productpage, REVIEWS_ID), ca: ca.rootPem });
  assert.equal(out.data, "");
  await waitCounted(ib, "no_workload_certificate");
  assert.equal((await rawClient(ib.port, GET)).data, "served plaintext\n");
});

test("a port that accepts only plaintext refuses TLS (tls_not_accepted)", async (t) => {
  const { productpage } = await meshOf(t);
  const ib = await startInbound(t, "PLAINTEXT_ONLY", undefined);
  await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID));
  await waitCounted(ib, "tls_not_accepted");
  assert.equal((await rawClient(ib.port, GET)).data, "served plaintext\n");
});

test("a rotated workload certificate is used by the next connection", async (t) => {
  const { ca, reviews, productpage } = await meshOf(t);
  const ib = await startInbound(t, "STRICT", reviews);
  assert.equal((await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID))).serverId, REVIEWS_ID);
  const ratings = await workloadCert(ca, workloadIdentity("cluster.local", "bookinfo", "ratings"));
  ib.setCertificate(ratings);
  const after = await tlsClient(ib.port, meshClient(productpage, RATINGS_ID));
  assert.equal(after.serverId, RATINGS_ID);
  assert.equal(after.data, `served ${PRODUCTPAGE_ID}\n`);
  // The client side's SAN check refuses the server that is not who the cluster expects.
  const wrong = await tlsClient(ib.port, meshClient(productpage, REVIEWS_ID));
  assert.equal(wrong.data, "");
  assert.match(String(wrong.error?.message), /presented "spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/ratings" but one of "spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews" was expected/);
});

test("TlsContexts: a proxy without identity sends auto mTLS in plaintext and cannot originate mesh TLS", () => {
  const socket: TransportSocket = {
    name: "envoy.transport_sockets.tls",
    typed_config: { "@type": TYPE.upstreamTls, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }] } },
  };
  const u = compileUpstreamTls(socket, "c");
  const none = new TlsContexts(undefined);
  assert.equal(none.usePlaintextFor({ ...u, auto: true }), true);
  assert.equal(none.usePlaintextFor(u), false, "TLS a DestinationRule demands is never downgraded");
  assert.deepEqual(none.clientOptions(u), { ok: false, reason: "no_workload_certificate" });
  assert.equal(none.certificate(), undefined);
  const waiting = new TlsContexts({ current: () => undefined });
  assert.equal(waiting.usePlaintextFor({ ...u, auto: true }), false, "an identity still being fetched: wait for it, no plaintext");
  // Files: one set of options per settings, reused.
  const files = compileUpstreamTls({ name: "envoy.transport_sockets.tls", typed_config: { "@type": TYPE.upstreamTls, sni: "api.example.com", common_tls_context: { alpn_protocols: ["h2"] } } }, "c");
  const a = none.clientOptions(files);
  const b = none.clientOptions(files);
  assert.ok(a.ok && b.ok);
  assert.equal(a.options, b.options);
  assert.equal(a.options.servername, "api.example.com");
  assert.deepEqual(a.options.ALPNProtocols, ["h2"]);
  assert.equal(a.options.rejectUnauthorized, true);
});

test("handshake and certificate failures map to the documented reasons", () => {
  const cases: [string, string | undefined, string][] = [
    ["peer did not return a certificate", "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE", "tls_no_client_certificate"],
    ["certificate has expired", "CERT_HAS_EXPIRED", "tls_expired_client_certificate"],
    ["unable to get local issuer certificate", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "tls_untrusted_client_certificate"],
    ["self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT", "tls_untrusted_client_certificate"],
    ["Client network socket disconnected before secure TLS connection was established", "ECONNRESET", "tls_handshake_aborted"],
    ["TLS handshake timeout", undefined, "tls_handshake_timeout"],
    ["wrong version number", "ERR_SSL_WRONG_VERSION_NUMBER", "tls_handshake_failed"],
  ];
  for (const [message, code, reason] of cases) assert.equal(handshakeFailureReason(Object.assign(new Error(message), code ? { code } : {})), reason, message);
  // What Node leaves on the socket when it refuses a client certificate (socket.authorizationError).
  assert.equal(clientCertificateFailureReason("CERT_HAS_EXPIRED"), "tls_expired_client_certificate");
  for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN", "CERT_SIGNATURE_FAILURE"]) {
    assert.equal(clientCertificateFailureReason(code), "tls_untrusted_client_certificate", code);
  }
});
