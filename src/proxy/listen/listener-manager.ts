// Opens one HTTP server per Listener that has an address, keeps unchanged ones bound across
// snapshots, and drains removed ones (stop accepting, let in-flight requests finish, then
// close what is left). Bind failures are logged and reported, never thrown. Listeners with
// bind_to_port false are not bound: CONNECT tunnels reach them (chain-dispatch.ts). A
// listener whose chains are not all HTTP picks a chain per connection (tcp_proxy or HTTP);
// HTTP/1.1 Upgrade requests (WebSocket) go through the same pipeline (upgrade.ts).
import http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { CompiledListener, Snapshot } from "../state/types.ts";
import { handleRequest, type HttpContext } from "../http/request-handler.ts";
import { rejectedStat, STAT } from "../stats.ts";
import { handleConnect, rawReply, type TunnelHost } from "./connect-tunnel.ts";
import { tunnelAuthority } from "../http/tunnel-authority.ts";
import { adoptSession, downstreamSocket, installH2cSniff } from "./h2c-sniff.ts";
import { DownstreamTls } from "../tls/downstream.ts";
import { dispatchBound } from "./chain-dispatch.ts";
import { acceptUpgrade, shouldUpgrade } from "./upgrade.ts";

/** Envoy's default max_request_headers_kb is 60. */
export const DEFAULT_MAX_HEADER_BYTES = 60 * 1024;
export const DEFAULT_DRAIN_MS = 10_000;

export interface ListenerManagerOptions {
  ctx: HttpContext;
  logger: Logger;
  maxHeaderBytes?: number;
  drainMs?: number;
}

export interface ListenerStatus {
  name: string;
  address: string;
  /** The bound port (differs from the configured one when that was 0). */
  port: number;
  state: "binding" | "listening" | "failed" | "draining";
  error?: string;
}

interface Bound {
  name: string;
  listener: CompiledListener;
  server: http.Server;
  status: ListenerStatus;
  ready: Promise<void>;
  /** CONNECT tunnels not (or no longer) tracked by the HTTP server. */
  rawSockets: Set<Socket>;
  /** HTTP/2 (h2c) downstream sessions; drain sends them GOAWAY. */
  h2Sessions: Set<http2.ServerHttp2Session>;
}

const CONNECT_INBOUND_BODY = "CONNECT is only served on the sidecar's outbound (HTTP_PROXY) listener\n";

export class ListenerManager {
  private readonly bound = new Map<string, Bound>();
  private readonly draining = new Set<Promise<void>>();
  private readonly opts: ListenerManagerOptions;

  constructor(opts: ListenerManagerOptions) {
    this.opts = opts;
  }

  /** Brings the bound servers in line with the snapshot; resolves when binds settled. */
  async apply(snap: Snapshot): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [name, b] of this.bound) {
      const next = snap.listeners.get(name);
      if (next && next.bindKey === b.listener.bindKey && b.status.state !== "failed") {
        b.listener = next;
        continue;
      }
      this.bound.delete(name);
      this.drain(b);
    }
    for (const [name, l] of snap.listeners) {
      if (this.bound.has(name) || l.bindToPort === false) continue;
      const b = this.bind(l);
      this.bound.set(name, b);
      pending.push(b.ready);
    }
    await Promise.all(pending);
  }

  status(): ListenerStatus[] {
    return [...this.bound.values()].map((b) => ({ ...b.status }));
  }

  /** Bound port of a listener, for tests and admin. */
  port(name: string): number | undefined {
    const b = this.bound.get(name);
    return b?.status.state === "listening" ? b.status.port : undefined;
  }

  async close(): Promise<void> {
    for (const b of this.bound.values()) this.drain(b);
    this.bound.clear();
    await Promise.all(this.draining);
  }

  private bind(l: CompiledListener): Bound {
    const { ctx, logger } = this.opts;
    const server = http.createServer({
      maxHeaderSize: this.opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      requireHostHeader: false, // absolute-form requests carry the authority in the URI
      requestTimeout: 0, // long streaming bodies are fine; idle connections time out below
      headersTimeout: 60_000,
      keepAliveTimeout: 60_000,
      // Upgrades other than h2c come as "upgrade" events; h2c is served as HTTP/1.1 (Envoy's way).
      shouldUpgradeCallback: shouldUpgrade,
    });
    server.maxHeadersCount = 0; // counted per connection manager in the request handler
    // gRPC clients dial HTTP/2 with prior knowledge: same port, told apart by the preface.
    const h2 = http2.createServer({ maxSessionMemory: 64 });
    installH2cSniff(server, h2);
    const b: Bound = {
      name: l.name,
      listener: l,
      server,
      status: { name: l.name, address: l.host, port: l.port, state: "binding" },
      ready: Promise.resolve(),
      rawSockets: new Set(),
      h2Sessions: new Set(),
    };
    const tunnelHost: TunnelHost = { server, listenerName: l.name, ctx, rawSockets: b.rawSockets, listener: () => b.listener };
    h2.on("session", (session: http2.ServerHttp2Session) => {
      adoptSession(session);
      b.h2Sessions.add(session);
      session.once("close", () => b.h2Sessions.delete(session));
      session.on("error", (err) => logger.debug({ listener: l.name, err: err.message }, "downstream HTTP/2 session error"));
    });
    h2.on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      // The route table reads the authority from Host; HTTP/2 carries it in :authority.
      if (req.headers.host === undefined && typeof req.headers[":authority"] === "string") req.headers.host = req.headers[":authority"];
      // Addresses, ports and a CONNECT authority live on the accepted socket.
      const real = downstreamSocket(req.stream.session!);
      if (real) Object.defineProperty(req, "socket", { value: real });
      onRequest(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
    });
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      try {
        handleRequest(ctx, b.name, b.listener, req, res);
      } catch (err) {
        // A bug must cost one request, never the process.
        logger.error({ listener: l.name, err: (err as Error).stack }, "request handling failed");
        ctx.stats.inc(rejectedStat("internal_error"));
        if (!res.headersSent) res.writeHead(500, req.httpVersionMajor === 2 ? { "content-type": "text/plain" } : { "content-type": "text/plain", connection: "close" });
        res.end("internal proxy error\n");
      }
    };
    server.on("request", onRequest);
    server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      onRequest(req, acceptUpgrade(req, socket, head, b.rawSockets));
    });
    // A CONNECT tunnel carrying HTTP comes back here as a connection; it is not counted twice.
    server.on("connection", (socket: Socket) => {
      if (tunnelAuthority(socket) === undefined) ctx.stats.inc(STAT.cxTotal);
    });
    server.on("connect", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (b.listener.inbound) {
        ctx.stats.inc(rejectedStat("connect_not_supported"));
        socket.end(rawReply("405 Method Not Allowed", CONNECT_INBOUND_BODY));
        return;
      }
      try {
        handleConnect(tunnelHost, req, socket, head);
      } catch (err) {
        logger.error({ listener: l.name, err: (err as Error).stack }, "CONNECT handling failed");
        ctx.stats.inc(rejectedStat("internal_error"));
        socket.destroy();
      }
    });
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      const code = err.code ?? "";
      const reason = code === "HPE_HEADER_OVERFLOW" ? "header_overflow" : code === "ECONNRESET" ? "downstream_reset" : code.includes("TIMEOUT") ? "timeout" : "malformed_request";
      ctx.stats.inc(rejectedStat(reason));
      logger.debug({ listener: l.name, reason, code }, "closing a downstream connection");
      if (socket.writable && reason !== "downstream_reset") {
        const reply = reason === "header_overflow" ? rawReply("431 Request Header Fields Too Large", "request headers too large\n")
          : reason === "timeout" ? rawReply("408 Request Timeout", "") : rawReply("400 Bad Request", "malformed HTTP request\n");
        socket.end(reply);
      }
      socket.destroy();
    });
    // Last, so it runs first: a port with mTLS chains decides TLS or plaintext per connection.
    this.installTransportInspection(b);
    b.ready = new Promise<void>((resolve) => {
      const onError = (err: NodeJS.ErrnoException) => {
        b.status.state = "failed";
        b.status.error = `${err.code ?? "error"}: ${err.message}`;
        logger.error({ listener: l.name, address: `${l.host}:${l.port}`, err: b.status.error }, `listener ${l.name} cannot bind ${l.host}:${l.port}; it stays down until the next update`);
        resolve();
      };
      server.once("error", onError);
      server.listen({ host: l.host, port: l.port }, () => {
        server.off("error", onError);
        server.on("error", (err) => logger.error({ listener: l.name, err: err.message }, "listener error"));
        const addr = server.address();
        b.status.state = "listening";
        b.status.port = typeof addr === "object" && addr ? addr.port : l.port;
        logger.info({ listener: l.name, address: `${l.host}:${b.status.port}` }, "listener bound");
        resolve();
      });
    });
    return b;
  }

  private installTransportInspection(b: Bound): void {
    const { ctx, logger } = this.opts;
    const handlers = b.server.listeners("connection") as ((s: Socket) => void)[];
    b.server.removeAllListeners("connection");
    const serveHttp = (socket: Socket): void => {
      for (const h of handlers) h.call(b.server, socket);
    };
    const bindAddress = b.listener.host !== "0.0.0.0" && b.listener.host !== "::" ? b.listener.host : undefined;
    const chainHost = {
      ctx,
      track: b.rawSockets,
      bindAddress,
      serveHttp: (socket: Socket) => {
        serveHttp(socket);
        socket.resume();
      },
    };
    // Chains that are not all HTTP: each connection picks its chain first (tcp_proxy or HTTP).
    const serve = (socket: Socket): void => {
      if (!b.listener.chainPerConnection) serveHttp(socket);
      else dispatchBound(chainHost, b.listener, socket);
    };
    const tlsStage = new DownstreamTls({ listener: () => b.listener, certificate: () => ctx.tls.certificate(), stats: ctx.stats, logger, serve });
    b.server.on("connection", (socket: Socket) => {
      // Tunnelled sockets and plaintext-only listeners skip the inspection.
      if (tunnelAuthority(socket) !== undefined) serveHttp(socket);
      else if (!b.listener.inspectTls) serve(socket);
      else tlsStage.accept(socket);
    });
  }

  private drain(b: Bound): void {
    if (b.status.state !== "listening") {
      b.server.close();
      return;
    }
    b.status.state = "draining";
    for (const s of b.h2Sessions) s.close();
    const drainMs = this.opts.drainMs ?? DEFAULT_DRAIN_MS;
    const p = new Promise<void>((resolve) => {
      const idle = setInterval(() => b.server.closeIdleConnections(), 200);
      const hard = setTimeout(() => {
        b.server.closeAllConnections();
        for (const s of b.rawSockets) s.destroy();
        for (const s of b.h2Sessions) s.destroy();
      }, drainMs);
      b.server.close(() => {
        clearInterval(idle);
        clearTimeout(hard);
        resolve();
      });
    });
    this.draining.add(p);
    void p.then(() => this.draining.delete(p));
    this.opts.logger.info({ listener: b.name }, "listener draining");
  }
}
