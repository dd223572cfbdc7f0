// The HTTP pipeline of one request on one listener: pick the filter chain's connection
// manager, find the virtual host and route, then answer directly, redirect, or forward.
// Each request reads the snapshot once at its start and keeps it to the end.
import { hostPort, pickWeighted } from "../weighted-pick.ts";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { CompiledHcm, CompiledListener, CompiledRoute, MatchInput, RouteForward, Snapshot } from "../state/types.ts";
import { selectFilterChain } from "../state/compile-listener.ts";
import { applyHeaderOps } from "../state/compile-headers.ts";
import type { ClusterRuntimes } from "../upstream/cluster-runtime.ts";
import { ProxyStats, STAT, codeClassStat, flagStat, rejectedStat } from "../stats.ts";
import { RequestLog } from "./request-log.ts";
import { parseRequestTarget } from "./request-target.ts";
import { tunnelAuthority } from "./tunnel-authority.ts";
import { REPLY, sendLocalReply } from "./local-reply.ts";
import { appendForwardedFor, endToEndHeaders } from "./proxy-headers.ts";
import { ForwardExchange } from "./forward.ts";
import { drawMirrors } from "./mirror.ts";
import { writeAccessLogs, type AccessLogSink } from "./access-log.ts";
import { runFault } from "./filters/fault.ts";
import { runSecurityFilters } from "./filters/authn-authz.ts";
import { addCorsHeaders, answerPreflight, evaluateCors } from "./filters/cors.ts";
import type { IstioMetrics } from "../telemetry/istio-metrics.ts";
import type { RecentFailures } from "../telemetry/recent-failures.ts";
import { addPeerHeaders, takePeerHeaders } from "../telemetry/peer-metadata.ts";
import { peerPrincipal, type TlsContexts } from "../tls/contexts.ts";
import { forwardUpgrade, UPGRADE_FAILED, upgradeOf } from "../listen/upgrade.ts";
import type { Tracer } from "../telemetry/tracing/tracer.ts";

export interface HttpContext {
  snapshot(): Snapshot;
  runtimes: ClusterRuntimes;
  stats: ProxyStats;
  accessLog: AccessLogSink;
  logger: Logger;
  /** [0, 1) for fault and CORS draws; Math.random when absent (tests inject one). */
  random?: () => number;
  /** Istio's standard metrics and peer metadata exchange; off when absent. */
  telemetry?: IstioMetrics;
  /** TLS contexts from the workload certificate (inbound mTLS, upstream mTLS). */
  tls: TlsContexts;
  /** Spans for connection managers with tracing; without it their requests are not traced. */
  tracer?: Tracer;
  /** The last failed requests, for admin /recent_failures and `mizzen describe`. */
  failures?: RecentFailures;
}


/** Index of the weighted cluster a request goes to; `random` returns [0, 1) (tests inject it). */
export function pickCluster(action: RouteForward, random: () => number = Math.random): number {
  return pickWeighted(action.clusters, action.totalWeight, random);
}

/** The first matching route of the virtual host for the authority; `configured` is false while RDS has not arrived. */
export function findRoute(hcm: CompiledHcm, input: MatchInput): { route: CompiledRoute | undefined; configured: boolean } {
  const table = hcm.routes;
  if (!table) return { route: undefined, configured: false };
  const vh = table.findVirtualHost(input.authority);
  if (vh) for (const r of vh.routes) if (r.matches(input)) return { route: r, configured: true };
  return { route: undefined, configured: true };
}

/** Handles one request; `fallback` is the listener as last bound, for draining listeners. */
export function handleRequest(ctx: HttpContext, listenerName: string, fallback: CompiledListener, req: IncomingMessage, res: ServerResponse): void {
  const snap = ctx.snapshot();
  const listener = snap.listeners.get(listenerName) ?? fallback;
  const sock = req.socket;
  const overTls = (sock as { encrypted?: boolean }).encrypted === true;
  const chain = selectFilterChain(listener, sock.localPort ?? 0, overTls ? "tls" : "raw_buffer");
  const hcm = chain?.hcm;
  if (!hcm) {
    ctx.stats.inc(rejectedStat("no_http_filter_chain"));
    sock.destroy();
    return;
  }
  const stats = ctx.stats;
  stats.inc(STAT.rqTotal);
  if (req.rawHeaders.length / 2 > hcm.maxHeadersCount) {
    stats.inc(rejectedStat("too_many_headers"));
    res.writeHead(431, { "content-type": "text/plain", connection: "close" });
    res.end(`too many request headers (limit ${hcm.maxHeadersCount})`, () => sock.destroy());
    return;
  }
  const log = new RequestLog();
  const headers = req.headers;
  log.method = req.method ?? "-";
  log.protocol = req.httpVersionMajor === 2 ? "HTTP/2" : `HTTP/${req.httpVersion}`;
  log.downstreamLocal = hostPort(sock.localAddress, sock.localPort);
  log.downstreamRemote = hostPort(sock.remoteAddress, sock.remotePort);
  log.userAgent = headers["user-agent"];
  log.grpc = headers["content-type"]?.startsWith("application/grpc") === true;
  // Peer metadata never reaches the application; an inbound listener answers with its own.
  log.downstreamPeer = takePeerHeaders(headers);
  if (overTls) {
    log.downstreamTls = true;
    log.downstreamPrincipal = peerPrincipal(sock);
  }
  const telemetry = ctx.telemetry;
  // As Istio: only a peer that sent its metadata (a sidecar) gets ours back; other clients never see it.
  if (telemetry && listener.inbound && log.downstreamPeer !== undefined) log.replyPeer = telemetry;
  if (hcm.generateRequestId && headers["x-request-id"] === undefined) headers["x-request-id"] = randomUUID();
  log.requestId = headers["x-request-id"] as string | undefined;
  // The span's context goes into the request headers, so every copy sent upstream carries it.
  const tracing = hcm.tracing;
  const span = tracing && ctx.tracer ? ctx.tracer.start(tracing, headers) : undefined;
  res.once("close", () => {
    if (!res.writableFinished && !log.endedByProxy && !log.flags.includes("DC")) {
      log.addFlag("DC");
      log.details = "downstream_remote_disconnect";
    }
    if (log.status === 0) log.status = res.headersSent ? res.statusCode : 0;
    stats.inc(codeClassStat(log.status));
    if (log.flags) for (const f of log.flags.split(",")) stats.inc(flagStat(f));
    if (hcm.accessLog) writeAccessLogs(hcm.accessLog.loggers, log, headers, ctx.accessLog);
    if (telemetry) telemetry.record(listener.inbound, snap.clusters.get(log.upstreamCluster), log, hcm.filters.stats, headers);
    ctx.failures?.note(listener.inbound, log);
    if (span) ctx.tracer!.finish(span, tracing!, listener.inbound, log, headers, snap.clusters.get(log.upstreamCluster));
  });

  // Inside a CONNECT tunnel a request without Host is for the tunnel's authority.
  const target = parseRequestTarget(req.url ?? "/", headers.host ?? tunnelAuthority(sock));
  if (!target) {
    log.path = req.url ?? "-";
    sendLocalReply(res, log, REPLY.badTarget);
    return;
  }
  log.path = target.query ? `${target.path}?${target.query}` : target.path;
  log.authority = target.authority || "-";
  // An Upgrade the connection manager is not configured for is refused before any filter, as Envoy.
  const upgrade = upgradeOf(req);
  if (upgrade && !hcm.upgradeTypes?.has(upgrade.type)) {
    sendLocalReply(res, log, UPGRADE_FAILED);
    return;
  }
  // JWT authentication and authorization run before routing, as Envoy's filters do.
  if ((hcm.filters.jwt || hcm.filters.rbac?.length) && !runSecurityFilters(hcm.filters, req, res, log, { method: log.method, path: log.path, authority: target.authority }, stats, ctx.logger)) return;
  const input: MatchInput = { method: log.method, authority: target.authority, path: target.path, query: target.query, headers, queryParams: undefined };
  const { route, configured } = findRoute(hcm, input);
  if (!route) {
    sendLocalReply(res, log, configured ? REPLY.noRoute : REPLY.noRouteConfig);
    return;
  }
  log.routeName = route.name;
  // Envoy's decode order on a sidecar: fault (delay, abort), CORS, then the router.
  const random = ctx.random ?? Math.random;
  const fault = hcm.filters.fault ? route.filters.fault ?? hcm.filters.defaultFault : undefined;
  const proceed = (): void => {
    const cors = hcm.filters.cors && route.filters.cors ? evaluateCors(route.filters.cors, log.method, headers, random) : undefined;
    if (cors?.kind === "preflight") {
      answerPreflight(res, log, cors.headers);
      return;
    }
    dispatchRoute(ctx, snap, listener, req, res, log, input, route, cors?.headers);
  };
  if (fault) runFault(fault, res, log, random, proceed);
  else proceed();
}

/** The router: answer directly, redirect, or forward; `corsHeaders` go on the response. */
function dispatchRoute(ctx: HttpContext, snap: Snapshot, listener: CompiledListener, req: IncomingMessage, res: ServerResponse, log: RequestLog, input: MatchInput, route: CompiledRoute, corsHeaders: Record<string, string> | undefined): void {
  const { stats } = ctx;
  const headers = req.headers;
  const sock = req.socket;
  const action = route.action;
  if (action.kind === "direct") {
    const h: Record<string, string | string[] | number | undefined> = { "content-length": action.body.length };
    if (action.body.length) h["content-type"] = "text/plain";
    applyHeaderOps(route.responseHeaders, h);
    addCorsHeaders(h, corsHeaders);
    log.status = action.status;
    log.details = "direct_response";
    log.bytesSent = action.body.length;
    res.writeHead(action.status, h);
    res.end(action.body);
    return;
  }
  if (action.kind === "redirect") {
    log.status = action.status;
    log.details = "direct_response";
    const h: Record<string, string | number> = { location: action.location(input), "content-length": 0 };
    addCorsHeaders(h, corsHeaders);
    res.writeHead(action.status, h);
    res.end();
    return;
  }
  const choice = action.clusters[pickCluster(action)];
  log.upstreamCluster = choice.cluster;
  const cluster = snap.clusters.get(choice.cluster);
  if (!cluster) {
    sendLocalReply(res, log, REPLY.noCluster);
    return;
  }
  const upstreamHeaders = endToEndHeaders(headers);
  upstreamHeaders.host = action.hostRewrite ?? input.authority;
  if (upstreamHeaders["x-forwarded-proto"] === undefined) upstreamHeaders["x-forwarded-proto"] = "http";
  if (listener.inbound) appendForwardedFor(upstreamHeaders, sock.remoteAddress);
  log.forwardedFor = upstreamHeaders["x-forwarded-for"] as string | undefined;
  applyHeaderOps(route.requestHeaders, upstreamHeaders);
  applyHeaderOps(choice.requestHeaders, upstreamHeaders);
  if (ctx.telemetry && !listener.inbound) addPeerHeaders(upstreamHeaders, ctx.telemetry);
  if (upgradeOf(req)) {
    forwardUpgrade({ req, res, log, stats, input, route, action, cluster, runtime: ctx.runtimes.get(cluster.name), headers: upstreamHeaders, tls: ctx.tls });
    return;
  }
  const mirrors = drawMirrors(ctx, snap, action.mirrors, action.timeoutMs, ctx.random);
  new ForwardExchange({ req, res, log, stats, input, route, action, cluster, runtime: ctx.runtimes.get(cluster.name), headers: upstreamHeaders, corsHeaders, mirrors, tls: ctx.tls }).start();
}
