// Envoy's tcp_proxy: one upstream connection per downstream connection, to an endpoint of one
// of the chain's (weighted) clusters, bytes piped both ways with back-pressure and half-close.
// mTLS applies as for HTTP: the endpoint's transport socket (auto mTLS to a sidecar) decides.
// Counted per stat_prefix (tcp.<prefix>.*) and per cluster (cluster.<name>.upstream_cx_*),
// and access-logged when both sides are closed, with Envoy's TCP flags (NC, UH, UF).
import { hostPort, pickWeighted } from "../weighted-pick.ts";
import net from "node:net";
import tls from "node:tls";
import type { CompiledCluster, CompiledListener, CompiledTcpProxy, EndpointAddress } from "../state/types.ts";
import type { HttpContext } from "../http/request-handler.ts";
import { RequestLog } from "../http/request-log.ts";
import { writeAccessLogs } from "../http/access-log.ts";
import { peerPrincipal } from "../tls/contexts.ts";
import type { TcpConnectionReport } from "../telemetry/istio-tcp-metrics.ts";
import { authorizeConnection } from "./tcp-rbac.ts";

export interface TcpProxyHost {
  ctx: HttpContext;
  /** The listener whose chain this is (inbound or outbound, for logs). */
  listener: CompiledListener;
  /** Upstream connections leave from this address (the pod IP); undefined: the OS picks. */
  bindAddress: string | undefined;
  /** Sockets a draining listener destroys at its deadline. */
  track: Set<net.Socket>;
  /** [0, 1) for the weighted pick; Math.random when absent. */
  random?: () => number;
}

export interface TcpConnectionInfo {
  /** Where an ORIGINAL_DST (passthrough) cluster connects: a CONNECT tunnel's authority. */
  originalDestination?: { host: string; port: number };
}

interface ProxyStatNames { cxTotal: string; cxActive: string; noRoute: string; rx: string; tx: string; idle: string }
interface ClusterStatNames { cxTotal: string; cxActive: string; connectFail: string; noneHealthy: string; rx: string; tx: string }

const proxyNames = new WeakMap<CompiledTcpProxy, ProxyStatNames>();
const clusterNames = new Map<string, ClusterStatNames>();

function namesOf(p: CompiledTcpProxy): ProxyStatNames {
  let n = proxyNames.get(p);
  if (!n) {
    const s = `tcp.${p.statPrefix}.`;
    n = { cxTotal: `${s}downstream_cx_total`, cxActive: `${s}downstream_cx_active`, noRoute: `${s}downstream_cx_no_route`, rx: `${s}downstream_cx_rx_bytes_total`, tx: `${s}downstream_cx_tx_bytes_total`, idle: `${s}idle_timeout` };
    proxyNames.set(p, n);
  }
  return n;
}

function clusterStatNames(name: string): ClusterStatNames {
  let n = clusterNames.get(name);
  if (!n) {
    const s = `cluster.${name}.`;
    n = { cxTotal: `${s}upstream_cx_total`, cxActive: `${s}upstream_cx_active`, connectFail: `${s}upstream_cx_connect_fail`, noneHealthy: `${s}upstream_cx_none_healthy`, rx: `${s}upstream_cx_rx_bytes_total`, tx: `${s}upstream_cx_tx_bytes_total` };
    clusterNames.set(name, n);
  }
  return n;
}


/** Index of the weighted cluster a connection goes to. */
export function pickTcpCluster(p: CompiledTcpProxy, random: () => number = Math.random): number {
  return pickWeighted(p.clusters, p.totalWeight, random);
}

/** Serves one downstream connection with a tcp_proxy chain. Never throws. */
export function proxyTcp(host: TcpProxyHost, downstream: net.Socket, proxy: CompiledTcpProxy, info: TcpConnectionInfo = {}): void {
  new TcpSession(host, downstream, proxy, info).start();
}

class TcpSession {
  private readonly log = new RequestLog();
  private readonly names: ProxyStatNames;
  private upstream: net.Socket | undefined;
  private cluster: CompiledCluster | undefined;
  private cnames: ClusterStatNames | undefined;
  private attempts = 0;
  private readonly tried: EndpointAddress[] = [];
  private connectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private downClosed = false;
  private downEnded = false;
  /** The upstream once connected; until then downstream bytes are held (and reading paused). */
  private connected: net.Socket | undefined;
  private held: Buffer[] = [];
  private upClosed = true;
  private done = false;
  private readonly host: TcpProxyHost;
  private readonly down: net.Socket;
  private readonly proxy: CompiledTcpProxy;
  private readonly info: TcpConnectionInfo;
  /** Istio's TCP metrics for this connection; undefined when metrics are off. */
  private readonly report: TcpConnectionReport | undefined;

  constructor(host: TcpProxyHost, down: net.Socket, proxy: CompiledTcpProxy, info: TcpConnectionInfo) {
    this.host = host;
    this.down = down;
    this.proxy = proxy;
    this.info = info;
    this.names = namesOf(proxy);
    const log = this.log;
    log.method = "-";
    log.protocol = "-";
    log.downstreamLocal = hostPort(down.localAddress, down.localPort);
    log.downstreamRemote = hostPort(down.remoteAddress, down.remotePort);
    if ((down as { encrypted?: boolean }).encrypted === true) {
      log.downstreamTls = true;
      log.downstreamPrincipal = peerPrincipal(down);
    }
    const sni = (down as { servername?: unknown }).servername;
    this.report = host.ctx.telemetry?.tcp.begin({ inbound: host.listener.inbound, log, config: proxy.stats, serverName: typeof sni === "string" ? sni : undefined });
  }

  /** A passthrough connection's original destination, which names its destination_service. */
  private target(): string | undefined {
    const d = this.info.originalDestination;
    return d ? hostPort(d.host, d.port) : undefined;
  }

  start(): void {
    const { ctx } = this.host;
    const stats = ctx.stats;
    stats.inc(this.names.cxTotal);
    stats.inc(this.names.cxActive);
    this.host.track.add(this.down);
    this.down.on("error", () => this.down.destroy());
    // Read from the start: whoever handed the socket over may resume it before the upstream is
    // there, and a flowing socket without a reader would drop bytes.
    this.down.on("data", this.onDownData);
    this.down.once("end", () => {
      this.downEnded = true;
      this.connected?.end();
    });
    this.down.once("close", () => {
      this.downClosed = true;
      this.host.track.delete(this.down);
      // The client went away: nothing more to send it, nothing more to take from upstream.
      this.upstream?.destroy();
      this.maybeFinish();
    });
    if (this.proxy.rbac && !authorizeConnection(this.proxy.rbac, this.down, this.log, stats, ctx.logger)) {
      this.log.endedByProxy = true;
      this.down.destroy(); // its "close" finishes the session (no upstream was opened)
      return;
    }
    const choice = this.proxy.clusters[pickTcpCluster(this.proxy, this.host.random ?? ctx.random)]!;
    this.log.upstreamCluster = choice.cluster;
    const cluster = ctx.snapshot().clusters.get(choice.cluster);
    if (!cluster) {
      stats.inc(this.names.noRoute);
      this.fail("NC", "cluster_not_found");
      return;
    }
    this.cluster = cluster;
    this.cnames = clusterStatNames(cluster.name);
    this.connect();
  }

  private pickEndpoint(c: CompiledCluster): EndpointAddress | undefined {
    if (c.type === "ORIGINAL_DST") {
      const d = this.info.originalDestination;
      if (!d) return undefined;
      return { host: d.host, port: d.port, key: hostPort(d.host, d.port), healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined };
    }
    return this.host.ctx.runtimes.get(c.name).pick(c, this.tried.length ? this.tried : undefined);
  }

  private connect(): void {
    if (this.done || this.downClosed) return;
    const { ctx } = this.host;
    const c = this.cluster!;
    const ep = this.pickEndpoint(c);
    if (!ep) {
      ctx.stats.inc(this.cnames!.noneHealthy);
      this.fail("UH", "no_healthy_upstream");
      return;
    }
    this.attempts++;
    this.tried.push(ep);
    this.log.upstreamHost = ep.key;
    ctx.stats.inc(this.cnames!.cxTotal);
    let tlsOptions: tls.ConnectionOptions | undefined;
    if (ep.tls && !ctx.tls.usePlaintextFor(ep.tls)) {
      const t = ctx.tls.clientOptions(ep.tls);
      if (!t.ok) {
        this.onConnectFailure(ep, `TLS_error:${t.reason}`);
        return;
      }
      tlsOptions = t.options;
    }
    const base = { host: ep.host, port: ep.port, allowHalfOpen: true, ...(this.host.bindAddress ? { localAddress: this.host.bindAddress } : {}) };
    const up = tlsOptions ? tls.connect({ ...tlsOptions, ...base }) : net.connect(base);
    this.upstream = up;
    this.upClosed = false;
    let connected = false;
    const timer = setTimeout(() => up.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })), c.connectTimeoutMs);
    this.connectTimer = timer;
    // With TLS the connection is ready after the handshake: a refused identity is a connect failure.
    up.once(tlsOptions ? "secureConnect" : "connect", () => {
      connected = true;
      clearTimeout(timer);
      this.onConnected(up, ep, tlsOptions !== undefined);
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      if (connected || this.upstream !== up) {
        ctx.logger.debug({ cluster: c.name, err: err.message }, "tcp_proxy upstream error");
        return;
      }
      clearTimeout(timer);
      this.onConnectFailure(ep, err.code === "ETIMEDOUT" ? "connection_timeout" : err.code ?? err.message);
    });
    up.once("close", (hadError: boolean) => {
      clearTimeout(timer);
      if (this.upstream !== up) return; // a failed try, already handled
      this.upClosed = true;
      if (connected) {
        ctx.stats.inc(this.cnames!.cxActive, -1);
        // A clean close was passed on by "end"; an upstream that errored cuts the client off.
        if (hadError) this.down.destroy();
        else if (!this.downClosed) this.down.end();
      }
      this.maybeFinish();
    });
  }

  private onConnectFailure(ep: EndpointAddress, reason: string): void {
    const { ctx } = this.host;
    this.upClosed = true;
    this.upstream = undefined;
    ctx.stats.inc(this.cnames!.connectFail);
    const rt = ctx.runtimes.peek(this.cluster!.name);
    if (rt) {
      rt.host(ep.key).cxConnectFail++;
      rt.outlier?.reportLocalFailure(ep.key);
    }
    this.log.transportFailure = reason;
    if (this.attempts < this.proxy.maxConnectAttempts && !this.downClosed) {
      this.connect();
      return;
    }
    this.fail("UF", "upstream_connect_failure");
  }

  private onConnected(up: net.Socket, ep: EndpointAddress, isTls: boolean): void {
    const { ctx } = this.host;
    const stats = ctx.stats;
    const names = this.names;
    const cn = this.cnames!;
    stats.inc(cn.cxActive);
    this.log.upstreamLocal = hostPort(up.localAddress, up.localPort);
    if (isTls) {
      this.log.upstreamTls = true;
      this.log.upstreamPrincipal = peerPrincipal(up);
    }
    this.report?.resolve(this.cluster, this.target());
    if (this.downClosed) {
      up.destroy();
      return;
    }
    const down = this.down;
    this.connected = up;
    const held = this.held;
    this.held = [];
    for (const chunk of held) this.onDownData(chunk);
    if (this.downEnded) up.end();
    up.on("drain", () => down.resume());
    // Upstream -> downstream.
    up.on("data", (chunk: Buffer) => {
      this.lastActivity = Date.now();
      this.log.bytesSent += chunk.length;
      stats.inc(names.tx, chunk.length);
      stats.inc(cn.rx, chunk.length);
      if (!down.write(chunk)) up.pause();
    });
    down.on("drain", () => up.resume());
    up.once("end", () => {
      if (!this.downClosed) down.end();
    });
    this.armIdle();
    down.resume();
  }

  /** Downstream -> upstream, counted; held while there is no upstream yet. */
  private readonly onDownData = (chunk: Buffer): void => {
    const up = this.connected;
    if (!up) {
      this.held.push(chunk);
      this.down.pause();
      return;
    }
    this.lastActivity = Date.now();
    this.log.bytesReceived += chunk.length;
    const stats = this.host.ctx.stats;
    stats.inc(this.names.rx, chunk.length);
    stats.inc(this.cnames!.tx, chunk.length);
    if (!up.write(chunk)) this.down.pause();
  };

  private armIdle(): void {
    const idle = this.proxy.idleTimeoutMs;
    if (idle <= 0) return;
    const check = (): void => {
      if (this.done) return;
      const quiet = Date.now() - this.lastActivity;
      if (quiet >= idle) {
        this.host.ctx.stats.inc(this.names.idle);
        this.log.connectionTermination = "idle_timeout";
        this.upstream?.destroy();
        this.down.destroy();
        return;
      }
      this.idleTimer = setTimeout(check, idle - quiet);
    };
    this.idleTimer = setTimeout(check, idle);
  }

  private fail(flag: string, details: string): void {
    this.log.addFlag(flag);
    this.log.details = details;
    this.down.destroy();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.done || !this.downClosed || !this.upClosed) return;
    this.done = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.connectTimer);
    const { ctx } = this.host;
    ctx.stats.inc(this.names.cxActive, -1);
    this.report?.end(this.cluster, this.target());
    const logs = this.proxy.accessLog;
    if (logs) writeAccessLogs(logs.loggers, this.log, undefined, ctx.accessLog);
    ctx.failures?.note(this.host.listener.inbound, this.log, "tcp");
  }
}
