// Inbound mTLS (STRICT and PERMISSIVE ports): the first byte of a connection says whether it
// is a TLS ClientHello (a record of type 22), as Envoy's tls_inspector decides; the listener's
// filter chains then say whether that transport is accepted. TLS is terminated here with the
// workload certificate, a mesh client certificate is required and verified against the mesh
// root, and the decrypted socket goes on to the HTTP handling (HTTP/1.1 or h2 alike).
// The peeked byte is pushed back with unshift(): a TLSSocket feeds bytes already buffered on
// the socket to OpenSSL, so the native socket is wrapped directly (no JS stream in between).
import tls from "node:tls";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { CompiledListener } from "../state/types.ts";
import { selectFilterChain } from "../state/compile-listener.ts";
import { rejectedStat } from "../stats.ts";
import type { ProxyStats } from "../stats.ts";
import type { WorkloadCertificate } from "./contexts.ts";
import type { CompiledDownstreamTls } from "./compile-transport.ts";
import { serverTlsOptions } from "../identity/tls-contexts.ts";

const TLS_HANDSHAKE_RECORD = 0x16;
/** A client that opened a connection must finish its TLS handshake within this time. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
const LOG_EVERY_MS = 60_000;

export interface DownstreamTlsHost {
  listener(): CompiledListener;
  /** The workload certificate in force; undefined without an identity. */
  certificate(): WorkloadCertificate | undefined;
  stats: ProxyStats;
  logger: Logger;
  /** Hands a connection (plaintext or decrypted) on to the HTTP handling. */
  serve(socket: Socket): void;
}

/** Why a TLS handshake failed, as a counted reason. */
export function handshakeFailureReason(err: NodeJS.ErrnoException): string {
  const text = `${err.code ?? ""} ${err.message}`.toLowerCase();
  if (text.includes("peer did not return a certificate") || text.includes("certificate required")) return "tls_no_client_certificate";
  if (text.includes("expired")) return "tls_expired_client_certificate";
  if (text.includes("unknown ca") || text.includes("unable to get") || text.includes("certificate verify failed") || text.includes("self-signed") || text.includes("self signed")) return "tls_untrusted_client_certificate";
  if (text.includes("econnreset") || text.includes("socket hang up") || text.includes("before secure tls connection")) return "tls_handshake_aborted";
  if (text.includes("timeout")) return "tls_handshake_timeout";
  return "tls_handshake_failed";
}

/** Why a client certificate failed verification (OpenSSL's code, e.g. CERT_HAS_EXPIRED), as a counted reason. */
export function clientCertificateFailureReason(code: string): string {
  return code.includes("EXPIRED") ? "tls_expired_client_certificate" : "tls_untrusted_client_certificate";
}

export class DownstreamTls {
  readonly #host: DownstreamTlsHost;
  readonly #lastLog = new Map<string, number>();
  readonly #servers = new Map<string, { server: tls.Server; cert: WorkloadCertificate }>();
  /** The listener's allowHalfOpen, restored on decrypted sockets before they are served. */
  #halfOpen = false;

  constructor(host: DownstreamTlsHost) {
    this.#host = host;
  }

  /** Takes a new connection: decides its transport, then terminates TLS or passes it on. */
  accept(socket: Socket): void {
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS);
    const onSilent = (): void => {
      this.#refuse(socket, "first_byte_timeout", "the client sent nothing");
    };
    // Fix: a client that closes (FIN) before its first byte (a TCP probe, say) was counted as
    // first_byte_timeout; it is neither a timeout nor a refusal, so it is closed quietly.
    const onEnd = (): void => {
      socket.destroy();
    };
    // Fix: until a chain takes the socket nothing else listens for its errors, and a reset
    // before the first byte (ECONNRESET) was an unhandled 'error' that ended the process.
    const onError = (): void => {
      socket.destroy();
    };
    socket.once("timeout", onSilent);
    socket.once("end", onEnd);
    socket.on("error", onError);
    socket.once("data", (first: Buffer) => {
      socket.off("timeout", onSilent);
      socket.off("end", onEnd);
      socket.pause();
      socket.unshift(first);
      const isTls = first[0] === TLS_HANDSHAKE_RECORD;
      const l = this.#host.listener();
      const chain = selectFilterChain(l, socket.localPort ?? 0, isTls ? "tls" : "raw_buffer");
      if (!chain) {
        this.#refuse(socket, isTls ? "tls_not_accepted" : "plaintext_on_mtls_port", isTls ? "TLS is not accepted on this port (PeerAuthentication DISABLE)" : "a plaintext connection arrived on a port whose PeerAuthentication requires mTLS (STRICT)");
        return;
      }
      socket.setTimeout(0);
      if (!isTls || !chain.tls) {
        socket.off("error", onError); // the HTTP handling owns the socket's errors from here
        this.#host.serve(socket);
        socket.resume(); // paused for the peek; the HTTP handling has its listeners now
        return;
      }
      this.#terminate(socket, chain.tls);
    });
  }

  #terminate(socket: Socket, settings: CompiledDownstreamTls): void {
    const server = this.#serverFor(settings);
    if (!server) {
      this.#refuse(socket, "no_workload_certificate", "this proxy has no workload certificate yet, so it cannot serve mTLS (start it with --ca-root and a bootstrap token)");
      return;
    }
    // Fix: the TLSSocket inherits allowHalfOpen from this socket (true on node:http listeners),
    // so a client that sent FIN mid-handshake (a truncated ClientHello) was held until the
    // handshake timeout. No half-open during the handshake; served sockets get it back.
    this.#halfOpen = socket.allowHalfOpen;
    socket.allowHalfOpen = false;
    // The server verifies the client's chain against the mesh root; a TLSSocket made by hand
    // would not (Node checks client certificates only for sockets a tls.Server owns).
    server.emit("connection", socket);
  }

  /**
   * A tls.Server that never listens: it only runs handshakes for sockets handed to it. One per
   * settings; its context is replaced when the workload certificate rotates (open connections
   * keep theirs).
   */
  #serverFor(settings: CompiledDownstreamTls): tls.Server | undefined {
    const cert = this.#host.certificate();
    if (!cert) return undefined;
    const key = `${settings.minVersion}|${settings.requireClientCert}|${settings.alpn.join(",")}`;
    let entry = this.#servers.get(key);
    // Mesh TLS as Istio's inbound: client certificate from the mesh required, ALPN h2 / http/1.1.
    const options = (): tls.TlsOptions => ({
      ...serverTlsOptions(cert, { mode: "ISTIO_MUTUAL" }),
      minVersion: settings.minVersion,
      rejectUnauthorized: settings.requireClientCert,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    if (!entry) {
      const server = tls.createServer(options());
      server.on("secureConnection", (secure: tls.TLSSocket) => {
        secure.setTimeout(0);
        secure.allowHalfOpen = this.#halfOpen;
        secure.on("error", () => secure.destroy()); // later errors end this connection only
        this.#host.stats.inc("downstream_cx_ssl_total");
        this.#host.serve(secure as unknown as Socket);
      });
      server.on("tlsClientError", (err: NodeJS.ErrnoException, s: tls.TLSSocket) => {
        // Fix: Node refuses a client certificate that fails verification by closing the socket
        // and reports only "socket hang up"; the verification result is left on the socket.
        const verify = s.authorizationError;
        if (verify) this.#refuse(s as unknown as Socket, clientCertificateFailureReason(String(verify)), `client certificate refused: ${String(verify)}`);
        else this.#refuse(s as unknown as Socket, handshakeFailureReason(err), err.message);
      });
      entry = { server, cert };
      this.#servers.set(key, entry);
    } else if (entry.cert !== cert) {
      entry.server.setSecureContext(options());
      entry.cert = cert;
    }
    return entry.server;
  }

  #refuse(socket: Socket, reason: string, detail: string): void {
    this.#host.stats.inc(rejectedStat(reason));
    const now = Date.now();
    if (now - (this.#lastLog.get(reason) ?? 0) >= LOG_EVERY_MS) {
      this.#lastLog.set(reason, now);
      this.#host.logger.warn({ listener: this.#host.listener().name, reason, peer: socket.remoteAddress }, `connection refused: ${detail}`);
    }
    socket.destroy();
  }
}
