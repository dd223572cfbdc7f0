// TLS options for connections, built once per (certificate, settings) and reused: creating a
// SecureContext parses keys and certificates, far too slow to do per connection. A rotated
// workload certificate is a new object, so the caches (WeakMaps keyed by it) turn over on
// their own; connections already open keep the context they were made with.
import tls from "node:tls";
import type { PeerCertificate } from "node:tls";
import type { CompiledUpstreamTls } from "./compile-transport.ts";
import { clientTlsOptions, peerPrincipal as identityPeerPrincipal } from "../identity/tls-contexts.ts";
import { parseSubjectAltNames } from "../identity/subject-alt-names.ts";
import type { WorkloadCertificate } from "../identity/validate-chain.ts";

export type { WorkloadCertificate };

/** Where the proxy's own certificate comes from; current() is undefined before the first one. */
export interface SecretSource {
  current(): WorkloadCertificate | undefined;
}

export type ClientTls = { ok: true; options: tls.ConnectionOptions } | { ok: false; reason: string };

/** Envoy's match_subject_alt_names for origination: one SAN must equal one of `sans`; none listed = hostname check. */
function originationSanCheck(sans: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  if (sans.length === 0) return tls.checkServerIdentity;
  const wanted = new Set(sans);
  return (_host, cert) => {
    const presented = parseSubjectAltNames(cert.subjectaltname).map((n) => n.value);
    if (presented.some((s) => wanted.has(s))) return undefined;
    return Object.assign(new Error(`server identity [${presented.join(", ") || "no SAN"}] is not one of the expected [${sans.join(", ")}]`), { code: "ERR_MIZZEN_SAN_MISMATCH" });
  };
}

export class TlsContexts {
  readonly #secrets: SecretSource | undefined;
  readonly #files = new Map<string, tls.ConnectionOptions>();
  readonly #mesh = new WeakMap<WorkloadCertificate, Map<string, ClientTls & { ok: true }>>();

  constructor(secrets: SecretSource | undefined) {
    this.#secrets = secrets;
  }

  /**
   * A proxy started without an identity (plaintext development mode) sends auto-mTLS traffic in
   * plaintext, as to a workload without a sidecar; TLS a DestinationRule demands still fails.
   */
  usePlaintextFor(u: CompiledUpstreamTls): boolean {
    return u.auto === true && this.#secrets === undefined;
  }

  /** The workload certificate in force; undefined without an identity. */
  certificate(): WorkloadCertificate | undefined {
    return this.#secrets?.current();
  }

  /** Options for tls.connect / https.request towards one endpoint; `host` is the endpoint's address. */
  clientOptions(u: CompiledUpstreamTls): ClientTls {
    if (u.kind === "files") {
      let options = this.#files.get(u.cacheKey);
      if (!options) {
        options = {
          secureContext: tls.createSecureContext({ ...(u.ca ? { ca: u.ca } : {}), ...(u.cert && u.key ? { cert: u.cert, key: u.key } : {}), minVersion: u.minVersion }),
          ...(u.sni ? { servername: u.sni } : {}),
          ...(u.alpn.length ? { ALPNProtocols: [...u.alpn] } : {}),
          rejectUnauthorized: true,
          checkServerIdentity: originationSanCheck(u.sans),
        };
        this.#files.set(u.cacheKey, options);
      }
      return { ok: true, options };
    }
    const cert = this.#secrets?.current();
    if (!cert) return { ok: false, reason: "no_workload_certificate" };
    // Per request: a lookup by the certificate and the compiled settings (no key building).
    let byKey = this.#mesh.get(cert);
    if (!byKey) this.#mesh.set(cert, (byKey = new Map()));
    let ok = byKey.get(u.cacheKey);
    if (!ok) {
      // Mesh certificates name a SPIFFE identity, not a host: the SAN check replaces hostname checks.
      ok = { ok: true, options: clientTlsOptions(cert, { expectedSans: u.sans, ...(u.sni ? { servername: u.sni } : {}), ...(u.alpn.length ? { alpn: u.alpn } : {}) }) };
      byKey.set(u.cacheKey, ok);
    }
    return ok;
  }
}

/** The verified peer's SPIFFE ID on a (TLS) socket, once per connection; undefined for plaintext. */
export function peerPrincipal(socket: object): string | undefined {
  return (socket as { encrypted?: boolean }).encrypted === true ? identityPeerPrincipal(socket as tls.TLSSocket) : undefined;
}
