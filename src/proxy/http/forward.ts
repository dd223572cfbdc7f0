// Forwards one request to a cluster: endpoint choice, tries, retries with back-off, per-try
// and route timeouts, and streaming the response back. A request body is streamed unless a
// retry could need it again and it is small enough to buffer; a partly streamed body is never
// sent twice.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { CompiledCluster, CompiledRoute, EndpointAddress, MatchInput, RouteForward } from "../state/types.ts";
import type { ClusterRuntime } from "../upstream/cluster-runtime.ts";
import type { AttemptFailure, AttemptHandlers } from "../upstream/attempt.ts";
import { startHttp1Try, type UpstreamTry } from "../upstream/h1/client-switch.ts";
import { H2Attempt } from "../upstream/h2-attempt.ts";
import type { ConnectionOptions } from "node:tls";
import { peerPrincipal, type TlsContexts } from "../tls/contexts.ts";
import { backoffMs, retryOnFailure, retryOnResponse } from "../upstream/retry-decision.ts";
import { endToEndHeaders } from "./proxy-headers.ts";
import { applyHeaderOps } from "../state/compile-headers.ts";
import { REPLY, sendLocalReply, type LocalReply } from "./local-reply.ts";
import type { RequestLog } from "./request-log.ts";
import { ProxyStats, STAT } from "../stats.ts";
import type { RequestMirrors } from "./mirror.ts";
import { addPeerHeaders, takePeerHeaders } from "../telemetry/peer-metadata.ts";
import { isHashPolicy } from "../upstream/load-balancer.ts";
import { appendSetCookies, requestHash, type RequestHash } from "../upstream/request-hash.ts";

// gRPC's status travels in trailers; an upstream's trailers-only answer carries it in its headers.
const GRPC_STATUS_HEADERS = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/** Bodies up to this size are buffered when the route may retry. */
export const MAX_BUFFERED_BODY = 64 * 1024;

export interface ForwardInput {
  req: IncomingMessage;
  res: ServerResponse;
  log: RequestLog;
  stats: ProxyStats;
  input: MatchInput;
  route: CompiledRoute;
  action: RouteForward;
  cluster: CompiledCluster;
  runtime: ClusterRuntime;
  /** Upstream request headers, already end-to-end only, with forwarding headers set. */
  headers: OutgoingHttpHeaders;
  /** Set on the upstream's response by the CORS filter (an allowed Origin); undefined when none. */
  corsHeaders?: Record<string, string>;
  /** Shadow copies this request feeds (drawn already); sent once the body is known, see mirror.ts. */
  mirrors?: RequestMirrors;
  /** Client TLS options per endpoint (mesh mTLS from the workload certificate). */
  tls: TlsContexts;
}

function hasBody(req: IncomingMessage): boolean {
  // HTTP/2 (gRPC) bodies need no length: the stream says whether one follows its headers.
  if (req.httpVersionMajor === 2) return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders !== true;
  const cl = req.headers["content-length"];
  if (cl !== undefined) return cl !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

function originalDestination(authority: string): EndpointAddress | undefined {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return undefined;
  const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  const port = m[2] ? Number(m[2]) : 80;
  return { host, port, key: `${m[1]}:${port}`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined };
}

export class ForwardExchange {
  private readonly f: ForwardInput;
  private readonly path: string;
  private body: Buffer | IncomingMessage | undefined;
  private replayable = true;
  private attempt: UpstreamTry | H2Attempt | undefined;
  private attemptStart = 0;
  private tries = 0;
  private tried: EndpointAddress[] | undefined;
  private routeTimer: NodeJS.Timeout | undefined;
  private tryTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private upstreamRes: IncomingMessage | undefined;
  private finished = false;
  /** A retry holds one of the cluster's max_retries slots until its try ends. */
  private retrying = false;
  private releaseTry: (() => void) | undefined;
  /** The route's hash_policy result, computed at the first pick of a hashing cluster. */
  private hashed: RequestHash | undefined;

  constructor(f: ForwardInput) {
    this.f = f;
    const { input, action } = f;
    const p = action.rewritePath ? action.rewritePath(input.path) : input.path;
    this.path = input.query ? `${p}?${input.query}` : p;
  }

  start(): void {
    const { req, res, action, runtime, cluster } = this.f;
    if (!runtime.admitRequest(cluster)) {
      this.finished = true;
      sendLocalReply(res, this.f.log, REPLY.overflow);
      return;
    }
    runtime.begin();
    res.once("close", () => this.onDownstreamClose());
    if (action.timeoutMs > 0) this.routeTimer = setTimeout(() => this.onRouteTimeout(), action.timeoutMs);
    if (!hasBody(req)) {
      this.body = undefined;
      this.tryOnce();
      this.mirror();
      return;
    }
    const len = Number(req.headers["content-length"]);
    const mayRetry = action.retry !== undefined && action.retry.numRetries > 0;
    if (mayRetry && Number.isFinite(len) && len <= MAX_BUFFERED_BODY) {
      this.bufferBody();
      return;
    }
    this.replayable = false;
    this.f.mirrors?.skip(); // a streamed body cannot be copied without holding it back
    this.body = req;
    req.on("data", (c: Buffer) => {
      this.f.log.bytesReceived += c.length;
    });
    this.tryOnce();
  }

  private bufferBody(): void {
    const { req } = this.f;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      this.f.log.bytesReceived += c.length;
    });
    req.once("end", () => {
      if (this.finished) return;
      this.body = Buffer.concat(chunks);
      this.f.headers["content-length"] = String(this.body.length);
      this.tryOnce();
      this.mirror();
    });
  }

  /** After the main try has started: the copies never go ahead of it. */
  private mirror(): void {
    const m = this.f.mirrors;
    if (!m) return;
    m.send({ method: this.f.req.method ?? "GET", path: this.path, headers: this.f.headers, body: Buffer.isBuffer(this.body) ? this.body : undefined });
  }

  private tryOnce(): void {
    if (this.finished) return;
    const { cluster, runtime, action, log } = this.f;
    const retry = action.retry;
    const ep = cluster.type === "ORIGINAL_DST"
      ? originalDestination(this.f.input.authority)
      : runtime.pick(cluster, retry?.avoidPreviousHosts ? this.tried : undefined, isHashPolicy(cluster.lbPolicy) ? (this.hashed ??= requestHash(action.hashPolicies, this.f.req, this.f.input)).hash : undefined);
    if (!ep) {
      this.fail(REPLY.noHealthyUpstream);
      return;
    }
    const admit = runtime.admitTry(cluster, ep);
    if (!admit.ok) {
      this.fail(REPLY.overflow);
      return;
    }
    this.tries++;
    (this.tried ??= []).push(ep);
    log.upstreamHost = ep.key;
    const host = runtime.host(ep.key);
    host.rqTotal++;
    host.rqActive++;
    // Once per try, whichever way it ends (answer, failure, timeout or abort).
    let active = true;
    const release = (): void => {
      if (active) host.rqActive--;
      active = false;
    };
    this.releaseTry = release;
    this.attemptStart = Date.now();
    const handlers: AttemptHandlers = {
        onResponse: (r) => {
          release();
          runtime.outlier?.reportStatus(ep.key, r.statusCode ?? 502);
          this.onResponse(attempt, r);
        },
        onFailure: (kind, detail) => {
          release();
          host.rqError++;
          if (kind === "connect-failure") host.cxConnectFail++;
          runtime.outlier?.reportLocalFailure(ep.key);
          this.onFailure(kind, detail);
        },
    };
    const onWaitEnd = admit.waiting ? () => runtime.endWait() : undefined;
    const method = this.f.req.method ?? "GET";
    let tlsOptions: ConnectionOptions | undefined;
    if (ep.tls && !this.f.tls.usePlaintextFor(ep.tls)) {
      const t = this.f.tls.clientOptions(ep.tls);
      if (!t.ok) {
        // No certificate to present: fail this try as a connection failure, with the reason.
        onWaitEnd?.();
        this.attempt = undefined;
        queueMicrotask(() => handlers.onFailure("connect-failure", `TLS_error:${t.reason}`));
        return;
      }
      tlsOptions = t.options;
    }
    // HTTP/2 when the cluster says so, or when it says nothing and the request is gRPC over
    // HTTP/2 (a real gRPC client; an HTTP/1.1 "gRPC" request keeps HTTP/1.1, as the downstream).
    const attempt: UpstreamTry | H2Attempt = cluster.http2 === true || (cluster.http2 === undefined && log.grpc && this.f.req.httpVersionMajor === 2)
      ? new H2Attempt({ endpoint: ep, method, path: this.path, headers: this.f.headers, pool: runtime.h2, connectTimeoutMs: cluster.connectTimeoutMs, body: this.body, onWaitEnd, ...(tlsOptions ? { tls: tlsOptions } : {}) }, handlers)
      : startHttp1Try(runtime, { endpoint: ep, method, path: this.path, headers: this.f.headers, connectTimeoutMs: cluster.connectTimeoutMs, body: this.body,
        maxRequestsPerConnection: cluster.maxRequestsPerConnection, onWaitEnd, ...(tlsOptions ? { tls: { options: tlsOptions, key: ep.tls!.cacheKey } } : {}) }, handlers);
    this.attempt = attempt;
    if (retry && retry.perTryTimeoutMs > 0) {
      this.tryTimer = setTimeout(() => {
        release();
        host.rqTimeout++;
        runtime.outlier?.reportLocalFailure(ep.key);
        this.onPerTryTimeout();
      }, retry.perTryTimeoutMs);
    }
  }

  private canRetry(): boolean {
    const r = this.f.action.retry;
    // Checked last: admitRetry takes a max_retries slot when it says yes.
    return r !== undefined && this.replayable && this.tries <= r.numRetries && !this.finished && this.f.runtime.admitRetry(this.f.cluster);
  }

  /** The retry's try has ended: give its max_retries slot back. */
  private endRetry(): void {
    if (!this.retrying) return;
    this.retrying = false;
    this.f.runtime.retriesActive--;
  }

  private scheduleRetry(): void {
    this.retrying = true;
    this.f.stats.inc(STAT.rqRetry);
    this.f.runtime.rqRetry++;
    this.backoffTimer = setTimeout(() => this.tryOnce(), backoffMs(this.tries));
  }

  private onFailure(kind: AttemptFailure, detail: string): void {
    clearTimeout(this.tryTimer);
    this.attempt = undefined;
    this.endRetry();
    const retry = this.f.action.retry;
    if (retry && retryOnFailure(retry, kind) && this.canRetry()) {
      this.scheduleRetry();
      return;
    }
    this.f.log.transportFailure = detail;
    if (retry && retryOnFailure(retry, kind) && this.tries > retry.numRetries) this.f.log.addFlag("URX");
    this.fail(kind === "connect-failure" ? REPLY.connectFailure : REPLY.upstreamReset);
  }

  private onPerTryTimeout(): void {
    this.releaseTry?.();
    this.attempt?.abort();
    this.attempt = undefined;
    this.endRetry();
    const retry = this.f.action.retry!;
    if (retryOnFailure(retry, "timeout") && this.canRetry()) {
      this.scheduleRetry();
      return;
    }
    this.fail(REPLY.perTryTimeout);
  }

  private onRouteTimeout(): void {
    // A try still waiting for its answer counts against its host, as a timeout.
    if (this.attempt) this.f.runtime.outlier?.reportLocalFailure(this.attempt.endpoint.key);
    this.releaseTry?.();
    this.attempt?.abort();
    this.attempt = undefined;
    this.fail(REPLY.timeout);
  }

  private onResponse(attempt: UpstreamTry | H2Attempt, r: IncomingMessage): void {
    clearTimeout(this.tryTimer);
    this.attempt = undefined;
    this.endRetry();
    const retry = this.f.action.retry;
    if (retry && retryOnResponse(retry, r)) {
      if (this.canRetry()) {
        r.resume(); // drain so the connection goes back to the pool
        this.f.runtime.host(attempt.endpoint.key).rqError++;
        this.scheduleRetry();
        return;
      }
      if (this.tries > retry.numRetries) {
        this.f.log.addFlag("URX");
        this.f.stats.inc(STAT.rqRetryLimitExceeded);
      }
    }
    this.deliver(attempt, r);
  }

  private deliver(attempt: UpstreamTry | H2Attempt, r: IncomingMessage): void {
    const { res, log, route, runtime } = this.f;
    clearTimeout(this.routeTimer);
    const status = r.statusCode ?? 502;
    const host = runtime.host(attempt.endpoint.key);
    if (status >= 500) host.rqError++;
    else host.rqSuccess++;
    const headers = endToEndHeaders(r.headers);
    log.upstreamPeer = takePeerHeaders(headers);
    const upstreamSocket = r.socket as { encrypted?: boolean } | undefined;
    if (upstreamSocket?.encrypted === true) {
      log.upstreamTls = true;
      log.upstreamPrincipal = peerPrincipal(upstreamSocket);
    }
    if (log.replyPeer) addPeerHeaders(headers, log.replyPeer);
    const serviceTime = String(Date.now() - this.attemptStart);
    headers["x-envoy-upstream-service-time"] = serviceTime;
    applyHeaderOps(route.responseHeaders, headers);
    if (this.hashed) appendSetCookies(headers, this.hashed.setCookies);
    if (this.f.corsHeaders) Object.assign(headers, this.f.corsHeaders);
    log.status = status;
    log.details = "via_upstream";
    log.upstreamServiceTime = serviceTime;
    log.upstreamLocal = r.socket?.localAddress ? `${r.socket.localAddress}:${r.socket.localPort}` : "-";
    this.upstreamRes = r;
    const trailers: OutgoingHttpHeaders = {};
    if (headers["grpc-status"] !== undefined) log.grpcStatus = String(headers["grpc-status"]); // trailers-only answer
    if (headers["grpc-status"] !== undefined && this.f.req.httpVersionMajor === 2) {
      for (const k of GRPC_STATUS_HEADERS) if (headers[k] !== undefined) {
        trailers[k] = headers[k];
        delete headers[k];
      }
    }
    r.on("trailers", (t: IncomingMessage["headers"]) => {
      Object.assign(trailers, endToEndHeaders(t));
      if (t["grpc-status"] !== undefined) log.grpcStatus = String(t["grpc-status"]);
    });
    r.once("end", () => {
      if (Object.keys(trailers).length > 0) res.addTrailers(trailers);
    });
    res.writeHead(status, headers);
    r.on("data", (c: Buffer) => {
      log.bytesSent += c.length;
    });
    r.on("error", () => {
      // Reset in the middle of the body: the client cannot be told with a status any more.
      log.addFlag("UC");
      log.connectionTermination = "upstream_reset_after_response_started";
      log.endedByProxy = true;
      res.destroy();
    });
    r.once("end", () => this.finish());
    r.pipe(res);
  }

  private fail(reply: LocalReply): void {
    if (this.finished) return;
    this.finish();
    sendLocalReply(this.f.res, this.f.log, reply);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.routeTimer);
    clearTimeout(this.tryTimer);
    clearTimeout(this.backoffTimer);
    this.endRetry();
    this.f.runtime.end();
  }

  private onDownstreamClose(): void {
    if (this.f.res.writableFinished || this.f.log.endedByProxy) return;
    this.f.log.addFlag("DC");
    this.f.log.details = "downstream_remote_disconnect";
    this.releaseTry?.();
    this.attempt?.abort();
    this.attempt = undefined;
    this.upstreamRes?.destroy();
    this.finish();
  }
}
