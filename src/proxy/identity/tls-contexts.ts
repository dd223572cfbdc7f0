// What node:tls needs to speak Istio's mutual TLS with a WorkloadCertificate.
//
// Built per certificate (so per rotation), never per connection: the client side shares one
// SecureContext per certificate, and the option objects are memoised, so calling these functions
// per connection costs a map lookup.
//
// Server side: hand serverTlsOptions(cert) to tls.createServer, and after each rotation to
// `server.setSecureContext(opts)`; connections already open keep the context they were made with.
// A PERMISSIVE listener that sniffs the first bytes (isTlsClientHello) must pass a TLS socket on
// to such a tls.Server with `tlsServer.emit("connection", socket)` (after unshifting the bytes),
// never wrap it in `new tls.TLSSocket(socket, { isServer: true })`: Node checks the client's
// certificate chain only inside tls.Server, so a bare server TLSSocket would accept a client
// certificate from any CA. (A tls.Server builds its own context from key/cert/ca, one per
// server per rotation; Node ignores `secureContext` there.)
//
// Client side: Istio's sidecar certificates carry no DNS name, only a SPIFFE ID, so hostname
// verification is replaced by a check of the server's URI SANs against the identities the
// cluster expects (Envoy's match_subject_alt_names; Istio fills it from the service accounts
// behind the service or from a DestinationRule's subjectAltNames).
import tls from "node:tls";
import { IdentityError } from "./errors.ts";
import { uriSansOf } from "./subject-alt-names.ts";
import type { WorkloadCertificate } from "./validate-chain.ts";

/**
 * The application protocols our inbound speaks, in our order of preference. Istio's inbound
 * advertises "istio-peer-exchange" too (its TCP metadata exchange); we do not speak that, so we
 * never select it.
 */
export const SERVER_ALPN: readonly string[] = ["h2", "http/1.1"];
/**
 * What an Istio sidecar offers to an in-mesh upstream over mTLS (its client-side ALPN override),
 * so an Envoy inbound picks its mTLS HTTP filter chain; pass one as clientTlsOptions' alpn.
 */
export const ISTIO_MTLS_ALPN_HTTP11: readonly string[] = ["istio-http/1.1", "istio", "http/1.1"];
export const ISTIO_MTLS_ALPN_H2: readonly string[] = ["istio-h2", "istio", "h2"];
/** Istio's "this is in-mesh traffic" marker; an Envoy client sends it (with "istio-peer-exchange") and no HTTP protocol for HTTP/1.1 clusters. */
const ISTIO_IN_MESH_ALPN = "istio";

const contexts = new WeakMap<WorkloadCertificate, tls.SecureContext>();
const serverOptions = new WeakMap<WorkloadCertificate, tls.TlsOptions>();
const clientOptions = new WeakMap<WorkloadCertificate, Map<string, tls.ConnectionOptions>>();
const principals = new WeakMap<tls.TLSSocket, string | null>();

/** The TLS context of one certificate: our chain and key, the mesh roots as the only trust anchors. */
export function secureContextFor(cert: WorkloadCertificate): tls.SecureContext {
  let ctx = contexts.get(cert);
  if (!ctx) {
    ctx = tls.createSecureContext({ key: cert.keyPem, cert: cert.certChainPem, ca: cert.rootsPem, minVersion: "TLSv1.2" });
    contexts.set(cert, ctx);
  }
  return ctx;
}

/**
 * Picks h2, else http/1.1 (as Istio's inbound does, which never selects its istio-* names),
 * else Istio's "istio" marker (the listener then tells HTTP/1.1 from
 * HTTP/2 by the first bytes, as it does in plaintext). A client that offers none of these gets
 * a no_application_protocol alert (RFC 7301); a client that offers no ALPN at all is accepted.
 */
export function selectServerAlpn({ protocols }: { protocols: string[] }): string | undefined {
  for (const p of SERVER_ALPN) if (protocols.includes(p)) return p;
  return protocols.includes(ISTIO_IN_MESH_ALPN) ? ISTIO_IN_MESH_ALPN : undefined;
}

export interface ServerTlsSettings {
  /** Only Istio's mutual TLS for now: a client certificate chaining to the mesh roots is required. */
  mode: "ISTIO_MUTUAL";
}

export function serverTlsOptions(cert: WorkloadCertificate, opts: ServerTlsSettings): tls.TlsOptions {
  if (opts.mode !== "ISTIO_MUTUAL") throw new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_tls_mode", `server TLS mode "${String(opts.mode)}" is not supported (ISTIO_MUTUAL is)`);
  let o = serverOptions.get(cert);
  if (!o) {
    o = Object.freeze({
      key: cert.keyPem,
      cert: cert.certChainPem,
      ca: cert.rootsPem,
      minVersion: "TLSv1.2",
      requestCert: true,
      rejectUnauthorized: true,
      ALPNCallback: selectServerAlpn,
    } satisfies tls.TlsOptions);
    serverOptions.set(cert, o);
  }
  return o;
}

export interface ClientTlsSettings {
  /** SNI to send (Istio sends outbound_.<port>_.<subset>_.<host>); absent = none for IP hosts. */
  servername?: string;
  /** The server must present one of these URI SANs (SPIFFE IDs); empty = any certificate of the mesh. */
  expectedSans: readonly string[];
  /** ALPN to offer, e.g. ["h2"] or ["http/1.1"]; absent = none. */
  alpn?: readonly string[];
}

/** The error a SAN mismatch fails the handshake with. Exported for tests and logs. */
export function sanMismatch(host: string, expected: readonly string[], presented: readonly string[]): IdentityError {
  return new IdentityError(
    "MIZZEN_E_TLS_SAN_MISMATCH",
    "san_mismatch",
    `the server at ${host || "(no name)"} presented ${presented.length ? presented.map((s) => `"${s}"`).join(", ") : "no URI SAN"} but one of ${expected.map((s) => `"${s}"`).join(", ")} was expected (check the DestinationRule's subjectAltNames, or the service account of the workload behind this endpoint)`,
  );
}

function sanChecker(expected: readonly string[]): (host: string, peer: tls.PeerCertificate) => Error | undefined {
  if (expected.length === 0) return () => undefined;
  const allowed = new Set(expected);
  return (host, peer) => {
    const presented = uriSansOf(peer.subjectaltname);
    return presented.some((s) => allowed.has(s)) ? undefined : sanMismatch(host, expected, presented);
  };
}

export function clientTlsOptions(cert: WorkloadCertificate, opts: ClientTlsSettings): tls.ConnectionOptions {
  if (!Array.isArray(opts.expectedSans) || opts.expectedSans.some((s) => typeof s !== "string" || s === "")) {
    throw new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_expected_sans", "expectedSans must be a list of non-empty strings (SPIFFE IDs such as spiffe://cluster.local/ns/default/sa/reviews)");
  }
  const memoKey = JSON.stringify([opts.servername ?? null, opts.expectedSans, opts.alpn ?? null]);
  let perCert = clientOptions.get(cert);
  if (!perCert) clientOptions.set(cert, (perCert = new Map()));
  let o = perCert.get(memoKey);
  if (!o) {
    o = Object.freeze({
      secureContext: secureContextFor(cert),
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      checkServerIdentity: sanChecker([...opts.expectedSans]),
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.alpn !== undefined ? { ALPNProtocols: [...opts.alpn] } : {}),
    } satisfies tls.ConnectionOptions);
    perCert.set(memoKey, o);
  }
  return o;
}

/** The verified peer's SPIFFE ID (its first spiffe:// URI SAN), computed once per connection. */
export function peerPrincipal(socket: tls.TLSSocket): string | undefined {
  const cached = principals.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  if (!socket.authorized) return undefined; // unverified, or the handshake is not done: nothing to cache yet
  const id = uriSansOf(socket.getPeerX509Certificate()?.subjectAltName).find((u) => u.startsWith("spiffe://"));
  principals.set(socket, id ?? null);
  return id;
}

/** Bytes isTlsClientHello needs to decide. */
export const TLS_SNIFF_BYTES = 3;

/**
 * True when the bytes start a TLS handshake record (content type 22, record version 3.0-3.4),
 * and, when the sixth byte is there, a ClientHello. Plaintext HTTP never starts with 0x16.
 * Needs TLS_SNIFF_BYTES; fewer answer false.
 */
export function isTlsClientHello(firstBytes: Buffer): boolean {
  if (firstBytes.length < TLS_SNIFF_BYTES) return false;
  if (firstBytes[0] !== 0x16 || firstBytes[1] !== 0x03 || firstBytes[2]! > 0x04) return false;
  return firstBytes.length < 6 || firstBytes[5] === 0x01;
}
