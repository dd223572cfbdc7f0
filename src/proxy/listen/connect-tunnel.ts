// CONNECT on the explicit-proxy listener. Many HTTP_PROXY clients (Node's fetch with
// NODE_USE_ENV_PROXY=1 among them) open a tunnel even for http:// URLs and then speak
// HTTP/1.1 inside it; clients of TCP and TLS services reach them this way too. When the
// listener has use_original_dst and a virtual listener exists for the tunnel's host:port
// (a TCP, TLS or auto-detected service port), that listener's chains decide (chain-dispatch.ts:
// tcp_proxy by server name, or HTTP). Otherwise we look at the first byte, and:
//   - plain HTTP: hand the socket back to the listener's HTTP server as a new downstream
//     connection, so the requests inside are routed by the same route table;
//   - TLS (a ClientHello, byte 0x16): the proxy cannot route it as HTTP, so the raw bytes go
//     to the CONNECT authority when the snapshot has Istio's ALLOW_ANY PassthroughCluster,
//     and the tunnel is closed otherwise.
import net, { type Socket } from "node:net";
import type http from "node:http";
import type { IncomingMessage } from "node:http";
import type { HttpContext } from "../http/request-handler.ts";
import { RequestLog } from "../http/request-log.ts";
import { markTunnel } from "../http/tunnel-authority.ts";
import { rejectedStat, STAT } from "../stats.ts";
import type { CompiledListener } from "../state/types.ts";
import { dispatchTunnel, virtualListenerFor } from "./chain-dispatch.ts";

export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
/** How long a tunnel may stay silent before its first byte. */
export const TUNNEL_FIRST_BYTE_TIMEOUT_MS = 60_000;
const TLS_HANDSHAKE = 0x16;

export interface TunnelHost {
  server: http.Server;
  listenerName: string;
  ctx: HttpContext;
  /** Raw sockets the HTTP server no longer tracks; drain destroys what is left of them. */
  rawSockets: Set<Socket>;
  /** The listener that accepted the CONNECT (use_original_dst and the pod IP are read from it). */
  listener?: () => CompiledListener;
}

export function rawReply(status: string, body: string): string {
  return `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** "host:port" or "[v6]:port" with a port in 1..65535; undefined when malformed. */
export function parseConnectAuthority(target: string | undefined): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(target ?? "");
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  return { host, port };
}

/** The server's "connect" event on an outbound listener. */
export function handleConnect(t: TunnelHost, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const { ctx } = t;
  const authority = req.url ?? "";
  const target = parseConnectAuthority(authority);
  if (!target) {
    ctx.stats.inc(rejectedStat("connect_bad_authority"));
    ctx.logger.debug({ listener: t.listenerName, authority }, "CONNECT with a malformed authority");
    socket.end(rawReply("400 Bad Request", `CONNECT needs an authority of the form host:port, got "${authority}"\n`));
    return;
  }
  const dest = target; // narrowed, for the function declarations below
  ctx.stats.inc(STAT.connectTotal);
  t.rawSockets.add(socket);
  const onError = (): void => {
    socket.destroy();
  };
  const onClose = (): void => {
    t.rawSockets.delete(socket);
  };
  socket.on("error", onError);
  socket.once("close", onClose);
  const onSilent = (): void => {
    socket.destroy();
  };
  socket.write("HTTP/1.1 200 Connection established\r\n\r\n");

  const accepting = t.listener?.();
  const virtual = accepting?.useOriginalDst ? virtualListenerFor(ctx.snapshot(), target.host, target.port) : undefined;
  if (virtual) {
    socket.setTimeout(0);
    socket.off("timeout", onSilent);
    const serveHttp = (s: Socket): void => {
      socket.off("error", onError);
      socket.off("close", onClose);
      t.rawSockets.delete(socket);
      ctx.stats.inc(STAT.connectHttp);
      markTunnel(s, authority);
      t.server.emit("connection", s);
      s.resume();
    };
    const bindAddress = accepting && accepting.host !== "0.0.0.0" && accepting.host !== "::" ? accepting.host : undefined;
    dispatchTunnel({ ctx, track: t.rawSockets, bindAddress, serveHttp }, virtual, socket, head, target, () => awaitFirstByte(Buffer.alloc(0)));
    return;
  }
  awaitFirstByte(head);

  function awaitFirstByte(initial: Buffer): void {
    if (initial.length > 0) {
      decide(initial);
      return;
    }
    socket.setTimeout(TUNNEL_FIRST_BYTE_TIMEOUT_MS);
    socket.on("timeout", onSilent);
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      decide(chunk);
    });
    socket.resume();
  }

  function decide(first: Buffer): void {
    socket.setTimeout(0);
    socket.off("timeout", onSilent);
    if (first[0] === TLS_HANDSHAKE) {
      passthroughOrClose(t, socket, first, authority, dest);
      return;
    }
    // Plain HTTP inside: give the socket back to the HTTP server as a fresh connection.
    socket.off("error", onError);
    socket.off("close", onClose);
    t.rawSockets.delete(socket);
    ctx.stats.inc(STAT.connectHttp);
    markTunnel(socket, authority);
    socket.pause();
    socket.unshift(first);
    t.server.emit("connection", socket);
    socket.resume();
  }
}

function passthroughOrClose(t: TunnelHost, socket: Socket, first: Buffer, authority: string, target: { host: string; port: number }): void {
  const { ctx } = t;
  const cluster = ctx.snapshot().clusters.get(PASSTHROUGH_CLUSTER);
  if (cluster?.type !== "ORIGINAL_DST") {
    ctx.stats.inc(rejectedStat("connect_tls_without_passthrough"));
    ctx.logger.warn({ listener: t.listenerName, authority }, `CONNECT to ${authority} carries TLS; HTTPS egress through the sidecar needs a PassthroughCluster (outboundTrafficPolicy ALLOW_ANY)`);
    socket.destroy();
    return;
  }
  ctx.stats.inc(STAT.connectPassthrough);
  const upstream = net.connect({ host: target.host, port: target.port });
  t.rawSockets.add(upstream);
  // Istio's TCP metrics, reported as a source to PassthroughCluster; bytes counted as they pass.
  const log = new RequestLog();
  log.upstreamCluster = PASSTHROUGH_CLUSTER;
  const report = ctx.telemetry?.tcp.begin({ inbound: false, log, config: undefined });
  if (report) {
    log.bytesReceived = first.length;
    socket.on("data", (c: Buffer) => {
      log.bytesReceived += c.length;
    });
    upstream.on("data", (c: Buffer) => {
      log.bytesSent += c.length;
    });
    socket.once("close", () => report.end(cluster, authority));
  }
  const connectTimer = setTimeout(() => upstream.destroy(new Error(`connect timeout after ${cluster.connectTimeoutMs} ms`)), cluster.connectTimeoutMs);
  let connected = false;
  upstream.once("connect", () => {
    connected = true;
    clearTimeout(connectTimer);
    report?.resolve(cluster, authority);
  });
  upstream.on("error", (err) => {
    clearTimeout(connectTimer);
    if (!connected) log.addFlag("UF");
    ctx.logger.debug({ listener: t.listenerName, authority, err: err.message }, "passthrough tunnel upstream failed");
    socket.destroy();
  });
  upstream.once("close", (hadError) => {
    clearTimeout(connectTimer);
    t.rawSockets.delete(upstream);
    // A clean end was already passed on by pipe(); an error cuts the client off too.
    if (hadError) socket.destroy();
  });
  socket.once("close", () => upstream.destroy());
  upstream.write(first);
  socket.pipe(upstream);
  upstream.pipe(socket);
  socket.resume();
}
