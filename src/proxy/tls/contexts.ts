// TLS options for connections, built once per (certificate, settings) and reused: creating a
// SecureContext parses keys and certificates, far too slow to do per connection. A rotated
// workload certificate is a new object, so the caches (WeakMaps keyed by it) turn over on
// their own; connections already open keep the context they were made with.
import tls from "node:tls";
import type { PeerCertificate } from "node:tls";
import type { CompiledUpstreamTls } from "./compile-transport.ts";

/** The workload certificate as the identity manager hands it out. */
export interface WorkloadCertificate {
  certChainPem: string;
  keyPem: string;
  rootsPem: string;
  spiffeId: string;
  notAfter: Date;
}

/** Where the proxy's own certificate comes from; current() is undefined before the first one. */
export interface SecretSource {
  current(): WorkloadCertificate | undefined;
}

export type ClientTls = { ok: true; options: tls.ConnectionOptions } | { ok: false; reason: string };

/** URI SANs of a certificate (Node renders them as "URI:spiffe://..., DNS:..."). */
export function uriSans(cert: Pick<PeerCertificate, "subjectaltname"> | undefined): string[] {
  const text = cert?.subjectaltname;
  if (!text) return [];
  const out: string[] = [];
  for (const part of text.split(", ")) if (part.startsWith("URI:")) out.push(part.slice(4));
  return out;
}

function dnsAndUriSans(cert: PeerCertificate): string[] {
  const text = cert.subjectaltname ?? "";
  return text.split(", ").filter((p) => p.startsWith("URI:") || p.startsWith("DNS:") || p.startsWith("IP Address:")).map((p) => p.slice(p.indexOf(":") + 1));
}

/** Envoy's match_subject_alt_names: one of the certificate's SANs must equal one of `sans`. */
function sanChecker(sans: readonly string[], fallbackToHostname: boolean): (host: string, cert: PeerCertificate) => Error | undefined {
  const wanted = new Set(sans);
  return (host, cert) => {
    if (wanted.size === 0) return fallbackToHostname ? tls.checkServerIdentity(host, cert) : undefined;
    const presented = dnsAndUriSans(cert);
    if (presented.some((s) => wanted.has(s))) return undefined;
    return Object.assign(new Error(`server identity [${presented.join(", ") || "no SAN"}] is not one of the expected [${sans.join(", ")}]`), { code: "ERR_MIZZEN_SAN_MISMATCH" });
  };
}

export class TlsContexts {
  readonly #secrets: SecretSource | undefined;
  readonly #client = new WeakMap<WorkloadCertificate, Map<string, tls.ConnectionOptions>>();
  readonly #files = new Map<string, tls.ConnectionOptions>();

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
          checkServerIdentity: sanChecker(u.sans, true),
        };
        this.#files.set(u.cacheKey, options);
      }
      return { ok: true, options };
    }
    const cert = this.#secrets?.current();
    if (!cert) return { ok: false, reason: "no_workload_certificate" };
    let byKey = this.#client.get(cert);
    if (!byKey) this.#client.set(cert, (byKey = new Map()));
    let options = byKey.get(u.cacheKey);
    if (!options) {
      options = {
        secureContext: tls.createSecureContext({ cert: cert.certChainPem, key: cert.keyPem, ca: cert.rootsPem, minVersion: u.minVersion }),
        ...(u.sni ? { servername: u.sni } : {}),
        ...(u.alpn.length ? { ALPNProtocols: [...u.alpn] } : {}),
        rejectUnauthorized: true,
        // Mesh certificates name a SPIFFE identity, not a host: the SAN check replaces hostname checks.
        checkServerIdentity: sanChecker(u.sans, false),
      };
      byKey.set(u.cacheKey, options);
    }
    return { ok: true, options };
  }
}

const principals = new WeakMap<object, string | undefined>();

/** The verified peer's SPIFFE ID on a TLS socket (computed once per connection); undefined for plaintext. */
export function peerPrincipal(socket: object): string | undefined {
  if (principals.has(socket)) return principals.get(socket);
  const s = socket as Partial<tls.TLSSocket>;
  let id: string | undefined;
  if (s.encrypted === true && typeof s.getPeerCertificate === "function" && s.authorized === true) {
    id = uriSans(s.getPeerCertificate()).find((u) => u.startsWith("spiffe://"));
  }
  principals.set(socket, id);
  return id;
}
