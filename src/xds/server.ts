// The control plane's Aggregated Discovery Service (state of the world) on @grpc/grpc-js.
// Proxies open one stream each; ads-connection.ts applies the protocol rules per stream,
// this file owns the gRPC server, the connections and the debounced push queue.
import { Metadata, Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { pino } from "pino";
import type { ProxyNode } from "./node.ts";
import { adsServiceDefinition, type DiscoveryRequestMessage } from "./ads-service.ts";
import { AdsConnection, type AdsCall, type AdsObserver, type ConnectionDeps } from "./ads-connection.ts";
import { PushQueue, affects, type PendingPush } from "./push-queue.ts";
import { emptyStats, type AdsStats, type ProxySyncStatus } from "./sync-status.ts";
import { envoyRoot } from "./protos.ts";
import type { HealthReport } from "./health-info.ts";

/** Longest run of proxy refreshes before a push yields to the event loop (see refreshSlice). */
const DEFAULT_PUSH_SLICE_MS = 20;

export type { ProxySyncStatus, TypeSyncStatus, AdsStats } from "./sync-status.ts";
export type { AdsObserver } from "./ads-connection.ts";

export interface AdsServerOptions {
  /** All resources this proxy should have, per type URL, keyed by resource name. Pure and synchronous. Never change a map once returned: the encoded subsets are remembered per map (resource-set.ts). */
  resourcesFor(node: ProxyNode): Map<string, ReadonlyMap<string, object>>;
  onConnect?(node: ProxyNode, connectionId: string): void;
  onDisconnect?(node: ProxyNode, connectionId: string): void;
  /**
   * The proxy reported its application's health (Istio's HealthInformation request): healthy,
   * or not with the reason. Called for every report; proxies send one per change and one
   * after each reconnect.
   */
  onHealth?(node: ProxyNode, connectionId: string, healthy: boolean, message: string | undefined): void;
  logger?: Logger;
  /** Quiet time before a push runs (default 100 ms); a push never waits more than maxDelayMs. */
  debounceMs?: number;
  /** Upper bound on a push's delay under a steady stream of changes (default 1000 ms). */
  maxDelayMs?: number;
  /**
   * Longest run of proxy refreshes before a push lets the event loop send what it wrote
   * (default 20 ms; 0 yields after every proxy).
   */
  pushSliceMs?: number;
  /** Push times, NACKs by type and convergence delays, for the control plane's /metrics. */
  observer?: AdsObserver;
  /** Decides whether a stream may speak for its node (see ConnectionDeps.authorize). */
  authorize?: ConnectionDeps["authorize"];
  /** Other services served on the same ports (the CA beside xDS, as istiod does on 15012). */
  services?: readonly { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
}

const silent = pino({ level: "silent" });

function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

export class AdsServer {
  private readonly opts: AdsServerOptions;
  private readonly logger: Logger;
  private readonly queue: PushQueue;
  private readonly live = new Map<string, AdsConnection>();
  private readonly statsValue: AdsStats = emptyStats();
  private readonly nonceSeed = randomBytes(4).toString("hex");
  private nonceCounter = 0;
  private connectionCounter = 0;
  private server: Server | undefined;
  /** When the oldest change the pending push carries arrived (for convergence time). */
  private pendingSince: number | undefined;
  /** Connections a push still has to refresh, with when the first change they wait for came. */
  private readonly toRefresh = new Map<AdsConnection, number>();
  private refreshScheduled = false;

  constructor(opts: AdsServerOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? silent;
    const debounceMs = opts.debounceMs ?? 100;
    this.queue = new PushQueue({ debounceMs, maxDelayMs: opts.maxDelayMs ?? Math.max(1000, debounceMs), flush: (p) => this.runPush(p) });
  }

  /**
   * Binds and serves; resolves with the bound port (useful with port 0). Call it once per
   * port: plaintext (development) and TLS ports share one server and one set of streams.
   */
  async listen(host: string, port: number, credentials: ServerCredentials = ServerCredentials.createInsecure()): Promise<number> {
    const server = this.server ?? this.createServer();
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(hostPort(host, port), credentials, (err, boundPort) => {
        if (err) reject(new Error(`cannot listen on ${hostPort(host, port)}: ${err.message.includes("No address added") ? "address in use or not available" : err.message}`));
        else resolve(boundPort);
      });
    });
    this.logger.info({ address: hostPort(host, bound), tls: credentials._isSecure() }, "ADS server listening");
    return bound;
  }

  private createServer(): Server {
    envoyRoot(); // load protos now, not on the first proxy's request
    const server = new Server({ "grpc.keepalive_permit_without_calls": 1 });
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: AdsCall) => this.accept(call),
    });
    for (const s of this.opts.services ?? []) server.addService(s.definition, s.implementation);
    this.server = server;
    return server;
  }

  private accept(call: AdsCall): void {
    const id = `c${++this.connectionCounter}-${this.nonceSeed}`;
    const conn = new AdsConnection(id, call, {
      resourcesFor: (node) => this.opts.resourcesFor(node),
      logger: this.logger,
      stats: this.statsValue,
      nextNonce: () => `${this.nonceSeed}-${++this.nonceCounter}`,
      identified: (c) => this.identified(c),
      health: (c, report, changed) => this.health(c, report, changed),
      ...(this.opts.authorize ? { authorize: this.opts.authorize } : {}),
      ...(this.opts.observer ? { observer: this.opts.observer } : {}),
    });
    try {
      call.sendMetadata(new Metadata()); // lets clients see the stream is up before any response
    } catch {
      // peer already gone
    }
    call.on("data", (req: DiscoveryRequestMessage) => {
      try {
        conn.handleRequest(req);
      } catch (err) {
        this.statsValue.badRequests++;
        this.logger.error({ connection: id, proxy: conn.node?.id, err: (err as Error).message }, "handling DiscoveryRequest failed");
      }
    });
    const gone = (why: string) => this.gone(conn, why);
    call.on("end", () => {
      gone("client closed the stream");
      try {
        call.end();
      } catch {
        // already ended
      }
    });
    call.on("error", (err: Error) => gone(`stream error: ${err.message}`));
    call.on("cancelled", () => gone("cancelled"));
    call.on("close", () => gone("closed"));
  }

  private identified(conn: AdsConnection): void {
    this.live.set(conn.id, conn);
    this.statsValue.connectedProxies = this.live.size;
    this.logger.debug({ proxy: conn.node!.id, connection: conn.id }, "proxy identified");
    try {
      this.opts.onConnect?.(conn.node!, conn.id);
    } catch (err) {
      this.logger.error({ proxy: conn.node!.id, err: (err as Error).message }, "onConnect failed");
    }
  }

  private health(conn: AdsConnection, report: HealthReport, changed: boolean): void {
    const node = conn.node!;
    if (changed) this.logger.info({ proxy: node.id, connection: conn.id, healthy: report.healthy, message: report.message }, report.healthy ? "workload reports healthy" : "workload reports unhealthy");
    try {
      this.opts.onHealth?.(node, conn.id, report.healthy, report.message);
    } catch (err) {
      this.logger.error({ proxy: node.id, err: (err as Error).message }, "onHealth failed");
    }
  }

  private gone(conn: AdsConnection, why: string): void {
    conn.closed = true;
    this.toRefresh.delete(conn);
    if (!this.live.delete(conn.id)) return;
    this.statsValue.connectedProxies = this.live.size;
    this.logger.debug({ proxy: conn.node?.id, connection: conn.id, why }, "ADS stream ended");
    try {
      this.opts.onDisconnect?.(conn.node!, conn.id);
    } catch (err) {
      this.logger.error({ proxy: conn.node?.id, err: (err as Error).message }, "onDisconnect failed");
    }
  }

  /** Debounced: recompute for the affected proxies and send only what changed. */
  push(reason: string, affectsProxy?: (node: ProxyNode) => boolean): void {
    this.pendingSince ??= performance.now();
    this.queue.push(reason, affectsProxy);
  }

  private runPush(p: PendingPush): void {
    this.statsValue.pushRounds++;
    this.statsValue.lastPushReasons = p.reasons.slice(-10);
    const since = this.pendingSince ?? performance.now();
    this.pendingSince = undefined;
    let reached = 0;
    for (const conn of this.live.values()) {
      if (conn.closed || !conn.node || !affects(p, conn.node)) continue;
      reached++;
      // Re-adding moves it to the back; a connection still waiting keeps its earlier start.
      const earlier = this.toRefresh.get(conn);
      this.toRefresh.delete(conn);
      this.toRefresh.set(conn, earlier ?? since);
    }
    this.logger.debug({ reasons: p.reasons.length, first: p.reasons[0], proxies: reached }, "push");
    if (!this.refreshScheduled) this.refreshSlice();
  }

  /**
   * Refreshes waiting connections for up to pushSliceMs, then lets the event loop run
   * before the next slice, so the responses already written reach their sockets (and their
   * proxies start applying them) while the rest are still being computed. Each refresh
   * computes from the state current at that moment; a push arriving in between only adds
   * connections, so none misses a change.
   */
  private refreshSlice(): void {
    this.refreshScheduled = false;
    const started = performance.now();
    for (const [conn, since] of this.toRefresh) {
      this.toRefresh.delete(conn);
      if (conn.closed || !conn.node) continue;
      try {
        conn.refresh();
        this.opts.observer?.converged?.((performance.now() - since) / 1000);
      } catch (err) {
        this.logger.error({ proxy: conn.node.id, err: (err as Error).message }, "push to proxy failed");
      }
      if (this.toRefresh.size > 0 && performance.now() - started >= (this.opts.pushSliceMs ?? DEFAULT_PUSH_SLICE_MS)) {
        this.refreshScheduled = true;
        setImmediate(() => {
          if (this.refreshScheduled) this.refreshSlice();
        });
        return;
      }
    }
  }

  syncStatus(): ProxySyncStatus[] {
    return [...this.live.values()].map((c) => c.status());
  }

  connections(): { id: string; node: ProxyNode }[] {
    return [...this.live.values()].map((c) => ({ id: c.id, node: c.node! }));
  }

  stats(): AdsStats {
    return { ...this.statsValue, pushesByType: { ...this.statsValue.pushesByType }, lastPushReasons: [...this.statsValue.lastPushReasons] };
  }

  /** Ends every stream and stops serving. Proxies see the stream end and reconnect elsewhere. */
  async close(): Promise<void> {
    this.queue.close();
    this.toRefresh.clear();
    this.refreshScheduled = false;
    for (const conn of [...this.live.values()]) {
      conn.end();
      this.gone(conn, "server closing");
    }
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 500);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
