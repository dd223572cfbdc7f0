// Starts a sidecar proxy: ADS client -> state (compile, validate, swap) -> listeners, plus
// the admin endpoint. While the control plane is unreachable the last good snapshot keeps
// serving; the client reconnects on its own.
import type { Logger } from "pino";
import { AdsClient } from "../xds/client.ts";
import { TYPE } from "../xds/envoy-types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { silentLogger } from "../log/logger.ts";
import { ProxyState } from "./state/proxy-state.ts";
import { ClusterRuntimes } from "./upstream/cluster-runtime.ts";
import { StrictDnsClusters } from "./upstream/strict-dns.ts";
import type { DnsLookup } from "./upstream/dns-resolver.ts";
import { ListenerManager } from "./listen/listener-manager.ts";
import { ProxyStats } from "./stats.ts";
import { startAdmin } from "./admin/admin-server.ts";
import { stdoutSink, type AccessLogSink } from "./http/access-log.ts";
import type { HttpContext } from "./http/request-handler.ts";
import { AppProber } from "./health/app-prober.ts";
import { IstioMetrics } from "./telemetry/istio-metrics.ts";
import { Tracer } from "./telemetry/tracing/tracer.ts";
import { RecentFailures } from "./telemetry/recent-failures.ts";
import { TlsContexts, type SecretSource } from "./tls/contexts.ts";
import type { WorkloadIdentityManager } from "./identity/workload-identity.ts";
import { credentials as grpcCredentials } from "@grpc/grpc-js";
import { UserError } from "../cli/user-error.ts";

/** The DNS name on the control plane's certificate that sidecars verify (see src/ca/serving-cert.ts). */
const CONTROL_PLANE_NAME = "mizzen-control";
import { METRICS_PORT, prometheusPage, startMetricsServer } from "./telemetry/metrics-server.ts";

export interface ProxyOptions {
  xds: string;
  node: ProxyNode;
  adminAddress: { host: string; port: number };
  /** Prometheus scrape address (/stats/prometheus); default podIP:15090, false for none. */
  metricsAddress?: { host: string; port: number } | false;
  /** Istio's standard metrics and peer metadata exchange (default on). */
  telemetry?: boolean;
  logger?: Logger;
  /** Probe pacing for health reporting (node.healthReporting); defaults 200 ms / 1 s / 1 s. */
  healthProbe?: { startupIntervalMs?: number; intervalMs?: number; connectTimeoutMs?: number };
  /**
   * The secure mode: xDS over TLS verified against the mesh root, a workload certificate from
   * the CA on the same address (key in memory, renewed at half-life), and the bootstrap token
   * that proves who this workload is. Without it: plaintext xDS and no mTLS (development).
   */
  security?: { rootPem: string; token: string; serverName?: string; certLifetimeSeconds?: number };
  /** How STRICT_DNS clusters resolve names; tests inject one (see DataPlaneOptions). */
  dnsLookup?: DnsLookup;
  /** Where access log lines go (default stdout); tests collect them. */
  accessLog?: AccessLogSink;
}

/** The data plane without the xDS client: what tests drive by feeding resources directly. */
export interface DataPlane {
  state: ProxyState;
  listeners: ListenerManager;
  runtimes: ClusterRuntimes;
  stats: ProxyStats;
  /** Istio's standard metrics; undefined when telemetry is off or the plane has no node. */
  telemetry: IstioMetrics | undefined;
  /** The /stats/prometheus page. */
  prometheus(): string;
  /** The last failed requests (admin /recent_failures). */
  failures: RecentFailures;
  /** Resolves when listener changes of the latest snapshot have been applied. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  logger?: Logger;
  accessLog?: AccessLogSink;
  subscribe?(typeUrl: string, names: string[]): void;
  drainMs?: number;
  maxHeaderBytes?: number;
  /** Local address for upstream connections (the pod IP); the OS picks when unset. */
  upstreamBindAddress?: string;
  /** Who this proxy is: the identity in its metrics and peer metadata. No metrics without it. */
  node?: ProxyNode;
  /** Istio's standard metrics when a node is given (default true). */
  telemetry?: boolean;
  /** The workload certificate (mTLS); without it mTLS chains and clusters fail with a clear reason. */
  secrets?: SecretSource;
  /** How STRICT_DNS clusters resolve names (default: DNS with TTLs, then the system resolver); tests inject one. */
  dnsLookup?: DnsLookup;
}

export function createDataPlane(opts: DataPlaneOptions = {}): DataPlane {
  const logger = opts.logger ?? silentLogger;
  const stats = new ProxyStats();
  const runtimes = new ClusterRuntimes(opts.upstreamBindAddress);
  let applying: Promise<void> = Promise.resolve();
  let listeners: ListenerManager | undefined = undefined;
  // STRICT_DNS names are looked up again on their TTL; each changed answer is a new snapshot.
  const dns = new StrictDnsClusters({ logger: logger.child({ name: "dns" }), ...(opts.dnsLookup ? { lookup: opts.dnsLookup } : {}), apply: (c, eps) => state.setDnsEndpoints(c, eps) });
  const state: ProxyState = new ProxyState({
    logger,
    subscribe: opts.subscribe,
    onSnapshot: (snap) => {
      runtimes.sync(snap);
      const lm = listeners!;
      // Listener changes apply in order, one snapshot after the other.
      applying = applying.then(() => lm.apply(snap)).catch((err: Error) => logger.error({ err: err.message }, "applying listeners failed"));
      dns.sync(state.strictDnsClusters());
    },
  });
  const telemetry = opts.node && opts.telemetry !== false ? new IstioMetrics(opts.node) : undefined;
  const tlsContexts = new TlsContexts(opts.secrets);
  if (telemetry && opts.secrets) telemetry.principal = () => opts.secrets?.current()?.spiffeId;
  const failures = new RecentFailures();
  const ctx: HttpContext = { snapshot: () => state.current, runtimes, stats, accessLog: opts.accessLog ?? stdoutSink, logger, telemetry, tls: tlsContexts, failures };
  // Cheap until a connection manager has tracing: the exporters load with the first sampled span.
  const tracer = new Tracer({ snapshot: () => state.current, stats, logger: logger.child({ name: "tracing" }), ...(opts.node ? { node: opts.node } : {}) });
  ctx.tracer = tracer;
  listeners = new ListenerManager({ ctx, logger, drainMs: opts.drainMs, maxHeaderBytes: opts.maxHeaderBytes });
  const lm = listeners;
  return {
    state,
    listeners: lm,
    runtimes,
    stats,
    telemetry,
    failures,
    prometheus: () => prometheusPage(telemetry, stats),
    settled: () => applying,
    async close() {
      dns.close();
      await applying;
      await lm.close();
      await tracer.close();
      runtimes.closeAll();
    },
  };
}

export async function startProxy(opts: ProxyOptions): Promise<{ close(): Promise<void>; adminPort: number; metricsPort: number | undefined }> {
  const logger = opts.logger ?? silentLogger;
  const sec = opts.security;
  let identity: WorkloadIdentityManager | undefined;
  if (sec) {
    // Loaded only in the secure mode: the X.509 code is not needed by a plaintext proxy.
    const { WorkloadIdentityManager } = await import("./identity/workload-identity.ts");
    identity = new WorkloadIdentityManager({
      caAddress: opts.xds,
      token: sec.token,
      caRootPem: sec.rootPem,
      caServerName: sec.serverName ?? CONTROL_PLANE_NAME,
      lifetimeSeconds: sec.certLifetimeSeconds ?? 0,
      logger: logger.child({ name: "identity" }),
      metadata: { WorkloadName: opts.node.name },
    });
    // The first certificate comes before any listener: an mTLS port never serves without one.
    try {
      await identity.start();
    } catch (err) {
      // Each start failure (token refused, CA unreachable, TLS) already says what to fix.
      throw (err as { code?: string }).code?.startsWith("MIZZEN_E_IDENTITY") ? new UserError((err as Error).message) : err;
    }
    // The CA signs the identity the token names; a proxy started as someone else stops here.
    const expected = `/ns/${opts.node.namespace}/sa/${opts.node.serviceAccount}`;
    const got = identity.current().spiffeId;
    if (!got.endsWith(expected)) {
      identity.stop();
      throw new UserError(`the bootstrap token is for ${got} but this proxy was started as namespace "${opts.node.namespace}", service account "${opts.node.serviceAccount}"; pass the --namespace and --service-account the token was issued for, or issue a token for this identity`);
    }
  }
  let client: AdsClient | undefined = undefined;
  const plane = createDataPlane({
    logger, upstreamBindAddress: opts.node.ip, node: opts.node, telemetry: opts.telemetry, subscribe: (t, names) => client?.subscribe(t, names),
    ...(identity ? { secrets: identity } : {}),
    ...(opts.dnsLookup ? { dnsLookup: opts.dnsLookup } : {}),
    ...(opts.accessLog ? { accessLog: opts.accessLog } : {}),
  });
  // The node as the control plane sees it; the metrics port is filled in once it is bound.
  const adsNode: ProxyNode = { ...opts.node };
  client = new AdsClient({
    server: opts.xds,
    node: adsNode,
    logger,
    ...(sec ? {
      credentials: grpcCredentials.createSsl(Buffer.from(sec.rootPem)),
      channelOptions: { "grpc.ssl_target_name_override": sec.serverName ?? CONTROL_PLANE_NAME, "grpc.default_authority": sec.serverName ?? CONTROL_PLANE_NAME },
      token: sec.token,
    } : {}),
    onResponse: (typeUrl, resources, version) => plane.state.handleResponse(typeUrl, resources, version),
    onConnectionChange: (up) => {
      if (up) logger.info({ xds: opts.xds }, "connected to the control plane");
      else logger.warn({ xds: opts.xds }, "control plane unreachable; serving the last good configuration");
    },
  });
  const ads = client;
  // With health reporting on, the control plane keeps this workload's endpoints unhealthy
  // until the app accepts connections on every port; reports go out only on change.
  const prober = opts.node.healthReporting
    ? new AppProber({
        host: opts.node.appAddress,
        ports: opts.node.ports.map((p) => p.containerPort),
        ...opts.healthProbe,
        onChange: (healthy, message) => {
          if (healthy) logger.info({ app: opts.node.appAddress }, "application is healthy");
          else logger.warn({ app: opts.node.appAddress, reason: message }, "application is not healthy");
          ads.reportHealth(healthy, message);
        },
      })
    : undefined;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>>;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      prober?.stop();
      identity?.stop();
      ads.close();
      await plane.close();
      await new Promise<void>((r) => admin.server.close(() => r()));
      admin.server.closeAllConnections();
      const m = metrics;
      if (m) {
        await new Promise<void>((r) => m.server.close(() => r()));
        m.server.closeAllConnections();
      }
    })();
    return closing;
  };
  const admin = await startAdmin(
    {
      state: plane.state,
      runtimes: plane.runtimes,
      listeners: plane.listeners,
      stats: plane.stats,
      prometheus: plane.prometheus,
      failures: plane.failures,
      logger,
      xdsConnected: () => ads.connected,
      certificate: () => identity?.current(),
      quit: () => {
        void close().then(() => process.exit(0));
      },
    },
    opts.adminAddress.host,
    opts.adminAddress.port,
  );
  const metricsAt = opts.metricsAddress ?? { host: opts.node.ip, port: METRICS_PORT };
  metrics = metricsAt ? await startMetricsServer(metricsAt.host, metricsAt.port, plane.prometheus, logger) : undefined;
  adsNode.metricsPort = metrics?.port ?? 0; // the dashboard scrapes podIP:<this>; 0 = none
  ads.subscribeAll(TYPE.cluster);
  ads.subscribeAll(TYPE.listener);
  ads.start();
  prober?.start();
  logger.info({ admin: `${opts.adminAddress.host}:${admin.port}`, xds: opts.xds }, "proxy started");
  return { close, adminPort: admin.port, metricsPort: metrics?.port };
}
