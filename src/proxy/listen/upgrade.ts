// HTTP/1.1 Upgrade (WebSocket) through the proxy. The HTTP server hands an upgrade request
// over as its socket ("upgrade" event); we give it a ServerResponse on that socket so the
// usual pipeline (filters, routing, local replies, access log, metrics) runs unchanged, and
// only the router's last step differs: instead of a pooled request, one fresh upstream
// connection asks for the same upgrade, and on 101 the two sockets are piped both ways.
// The connection manager decides which Upgrade types it proxies (upgrade_configs, Istio sets
// "websocket"); others get Envoy's 403 with details upgrade_failed. Envoy logs the request
// once, when the upgraded connection ends: status 101 and the bytes of the whole exchange.
import type { ForwardInput } from "../http/forward.ts";
import http, { ServerResponse } from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { EndpointAddress } from "../state/types.ts";
import type { RequestLog } from "../http/request-log.ts";
import { REPLY, sendLocalReply, type LocalReply } from "../http/local-reply.ts";
import { endToEndHeaders } from "../http/proxy-headers.ts";
import { applyHeaderOps } from "../state/compile-headers.ts";
import { addPeerHeaders, takePeerHeaders } from "../telemetry/peer-metadata.ts";
import { peerPrincipal } from "../tls/contexts.ts";

/** Envoy's answer to an Upgrade its connection manager is not configured for. */
export const UPGRADE_FAILED: LocalReply = { status: 403, flag: "-", details: "upgrade_failed", body: "" };

export const UPGRADE_STAT = { total: "downstream_cx_upgrades_total", active: "downstream_cx_upgrades_active" } as const;

interface PendingUpgrade {
  socket: Socket;
  head: Buffer;
  /** The Upgrade header, lower case ("websocket"). */
  type: string;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();
const upgraded = new WeakSet<IncomingMessage>();

/** HTTP/2 cleartext upgrades (curl --http2) are served as plain HTTP/1.1 requests, as Envoy does. */
export function shouldUpgrade(req: IncomingMessage): boolean {
  const type = req.headers.upgrade?.trim().toLowerCase();
  return type !== undefined && type !== "" && type !== "h2c";
}

/** The upgrade an "upgrade" request asks for; undefined for every other request. */
export function upgradeOf(req: IncomingMessage): PendingUpgrade | undefined {
  return pending.get(req);
}

/**
 * Turns the server's "upgrade" event into a request/response pair for the pipeline. A reply
 * the proxy writes itself (403, 404, 503, ...) closes the connection after it.
 */
export function acceptUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, track: Set<Socket>): ServerResponse {
  pending.set(req, { socket, head, type: (req.headers.upgrade ?? "").trim().toLowerCase() });
  track.add(socket);
  socket.once("close", () => track.delete(socket));
  socket.on("error", () => socket.destroy());
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once("finish", () => {
    if (!upgraded.has(req)) socket.end();
  });
  return res;
}

/** What the router hands an upgrade: the same inputs as a forwarded request (see forward.ts). */
export type UpgradeInput = Pick<ForwardInput, "req" | "res" | "log" | "stats" | "input" | "route" | "action" | "cluster" | "runtime" | "headers" | "tls">;

function authorityEndpoint(authority: string): EndpointAddress | undefined {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return undefined;
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  const port = m[2] ? Number(m[2]) : 80;
  return { host, port, key: `${m[1]}:${port}`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined };
}

/** The router's step for an upgrade request: one upstream connection, then a two-way pipe. */
export function forwardUpgrade(f: UpgradeInput): void {
  const { req, res, log, runtime, cluster, action, input } = f;
  const up = pending.get(req);
  if (!up) {
    sendLocalReply(res, log, UPGRADE_FAILED);
    return;
  }
  const ep = cluster.type === "ORIGINAL_DST" ? authorityEndpoint(input.authority) : runtime.pick(cluster, undefined);
  if (!ep) {
    sendLocalReply(res, log, REPLY.noHealthyUpstream);
    return;
  }
  let tlsOptions: ConnectionOptions | undefined;
  if (ep.tls && !f.tls.usePlaintextFor(ep.tls)) {
    const t = f.tls.clientOptions(ep.tls);
    if (!t.ok) {
      log.transportFailure = `TLS_error:${t.reason}`;
      sendLocalReply(res, log, REPLY.connectFailure);
      return;
    }
    tlsOptions = t.options;
  }
  log.upstreamHost = ep.key;
  const host = runtime.host(ep.key);
  host.rqTotal++;
  runtime.begin();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    runtime.end();
  };
  const p = action.rewritePath ? action.rewritePath(input.path) : input.path;
  const headers = f.headers;
  headers.connection = "Upgrade";
  headers.upgrade = req.headers.upgrade;
  const started = Date.now();
  const target = { host: ep.host, port: ep.port, method: req.method ?? "GET", path: input.query ? `${p}?${input.query}` : p, headers, setHost: false, agent: false as const };
  // Upgraded connections are never pooled: a fresh connection each.
  const upReq = tlsOptions ? https.request({ ...target, ...tlsOptions }) : http.request(target);
  let answered = false;
  let connected = false;
  const downstream = up.socket;
  const connectTimer = setTimeout(() => upReq.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })), cluster.connectTimeoutMs);
  const routeTimer = action.timeoutMs > 0 ? setTimeout(() => {
    if (answered) return;
    answered = true;
    upReq.destroy();
    end();
    sendLocalReply(res, log, REPLY.timeout);
  }, action.timeoutMs) : undefined;
  const settle = (): void => {
    answered = true;
    clearTimeout(connectTimer);
    clearTimeout(routeTimer);
  };
  upReq.on("socket", (s: Socket) => {
    s.once(tlsOptions ? "secureConnect" : "connect", () => {
      connected = true;
      clearTimeout(connectTimer);
    });
  });
  downstream.once("close", () => {
    if (answered) return;
    settle();
    log.addFlag("DC");
    log.details = "downstream_remote_disconnect";
    upReq.destroy();
    end();
  });
  upReq.on("error", (err: NodeJS.ErrnoException) => {
    if (answered) return;
    settle();
    end();
    host.rqError++;
    if (!connected) {
      host.cxConnectFail++;
      runtime.outlier?.reportLocalFailure(ep.key);
    }
    log.transportFailure = err.code ?? err.message;
    sendLocalReply(res, log, connected ? REPLY.upstreamReset : REPLY.connectFailure);
  });
  upReq.on("response", (upRes: IncomingMessage) => {
    // The upstream said no to the upgrade: its answer goes back as an ordinary response.
    if (answered) {
      upRes.resume();
      return;
    }
    settle();
    const h = endToEndHeaders(upRes.headers);
    log.upstreamPeer = takePeerHeaders(h);
    if (log.replyPeer) addPeerHeaders(h, log.replyPeer);
    applyHeaderOps(f.route.responseHeaders, h);
    log.status = upRes.statusCode ?? 502;
    log.details = "via_upstream";
    log.upstreamServiceTime = String(Date.now() - started);
    res.writeHead(log.status, h);
    upRes.on("data", (c: Buffer) => {
      log.bytesSent += c.length;
    });
    upRes.once("end", end);
    upRes.once("error", () => {
      end();
      res.destroy();
    });
    upRes.pipe(res);
  });
  upReq.on("upgrade", (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    if (answered) {
      upSocket.destroy();
      return;
    }
    settle();
    runtime.outlier?.reportStatus(ep.key, upRes.statusCode ?? 101);
    host.rqSuccess++;
    const h = endToEndHeaders(upRes.headers);
    log.upstreamPeer = takePeerHeaders(h);
    if (log.replyPeer) addPeerHeaders(h, log.replyPeer);
    applyHeaderOps(f.route.responseHeaders, h);
    h.connection = "Upgrade";
    h.upgrade = upRes.headers.upgrade;
    if ((upSocket as { encrypted?: boolean }).encrypted === true) {
      log.upstreamTls = true;
      log.upstreamPrincipal = peerPrincipal(upSocket);
    }
    log.status = upRes.statusCode ?? 101;
    log.details = "via_upstream";
    log.upstreamServiceTime = String(Date.now() - started);
    log.upstreamLocal = upSocket.localAddress ? `${upSocket.localAddress}:${upSocket.localPort}` : "-";
    upgraded.add(req);
    f.stats.inc(UPGRADE_STAT.total);
    f.stats.inc(UPGRADE_STAT.active);
    res.writeHead(log.status, h);
    res.end();
    pipeUpgraded(downstream, upSocket, up.head, upHead, log, () => {
      f.stats.inc(UPGRADE_STAT.active, -1);
      end();
    });
  });
  upReq.end();
}

/** Both ways, with back-pressure and half-close; `done` once both sockets are closed. */
function pipeUpgraded(down: Socket, up: Socket, downHead: Buffer, upHead: Buffer, log: RequestLog, done: () => void): void {
  let open = 2;
  const closed = (): void => {
    if (--open === 0) done();
  };
  if (upHead.length > 0) {
    log.bytesSent += upHead.length;
    down.write(upHead);
  }
  if (downHead.length > 0) {
    log.bytesReceived += downHead.length;
    up.write(downHead);
  }
  down.on("data", (c: Buffer) => {
    log.bytesReceived += c.length;
    if (!up.write(c)) down.pause();
  });
  up.on("data", (c: Buffer) => {
    log.bytesSent += c.length;
    if (!down.write(c)) up.pause();
  });
  up.on("drain", () => down.resume());
  down.on("drain", () => up.resume());
  down.once("end", () => up.end());
  up.once("end", () => down.end());
  up.on("error", () => up.destroy());
  down.once("close", () => {
    up.destroy();
    closed();
  });
  up.once("close", (hadError: boolean) => {
    if (hadError) down.destroy();
    else down.end();
    closed();
  });
  down.resume();
  up.resume();
}
