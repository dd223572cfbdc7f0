// HTTP/2 connections to upstream endpoints: one session per endpoint, reused by every try
// of the cluster (streams are multiplexed). A session that closes, fails or receives GOAWAY
// leaves the pool; the next try opens a fresh one.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { EndpointAddress } from "../state/types.ts";

export class H2Pool {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly localAddress: string | undefined;
  private closed = false;

  constructor(localAddress?: string) {
    this.localAddress = localAddress;
  }

  /** The endpoint's session, opened now if there is none usable; `tlsOptions` for TLS (ALPN h2). */
  session(ep: EndpointAddress, tlsOptions?: tls.ConnectionOptions): http2.ClientHttp2Session {
    const key = tlsOptions ? `tls|${ep.key}` : ep.key;
    const cur = this.sessions.get(key);
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const host = ep.host.includes(":") ? `[${ep.host}]` : ep.host;
    // Connections leave from the pod's own address, as the HTTP/1.1 pool's do.
    const localAddress = this.localAddress;
    const s = tlsOptions
      ? http2.connect(`https://${host}:${ep.port}`, { createConnection: () => tls.connect({ ...tlsOptions, host: ep.host, port: ep.port, ALPNProtocols: ["h2"], ...(localAddress ? { localAddress } : {}) }) })
      : http2.connect(`http://${host}:${ep.port}`, localAddress ? { createConnection: () => net.connect({ host: ep.host, port: ep.port, localAddress }) } : {});
    const forget = (): void => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
    };
    s.on("error", forget); // each try sees the failure on its own stream
    s.once("close", forget);
    s.once("goaway", forget);
    // An idle session must not keep the process alive.
    s.unref();
    this.sessions.set(key, s);
    if (this.closed) s.close();
    return s;
  }

  /** Open sessions (for admin and tests). */
  get size(): number {
    return this.sessions.size;
  }

  /** Graceful: in-flight streams finish, then the sessions close. */
  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
