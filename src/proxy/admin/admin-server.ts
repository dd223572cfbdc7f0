// The proxy's admin endpoint: /ready, /config_dump, /clusters, /listeners, /stats,
// POST /quitquitquit. Local operators and the CLI read it; it never changes traffic.
import { certsView } from "./certs-view.ts";
import type { WorkloadCertificate } from "../tls/contexts.ts";
import http from "node:http";
import type { Logger } from "pino";
import type { ProxyState } from "../state/proxy-state.ts";
import type { ClusterRuntimes } from "../upstream/cluster-runtime.ts";
import type { ListenerManager } from "../listen/listener-manager.ts";
import type { ProxyStats } from "../stats.ts";
import { configDump } from "./config-dump.ts";
import { clusterCounters, clustersJson, clustersText } from "./clusters-view.ts";
import { sendPrometheus } from "../telemetry/metrics-server.ts";
import type { RecentFailures } from "../telemetry/recent-failures.ts";

export interface AdminDeps {
  state: ProxyState;
  runtimes: ClusterRuntimes;
  listeners: ListenerManager;
  stats: ProxyStats;
  /** The Prometheus page (Istio's metrics and our counters); /stats/prometheus is 404 without it. */
  prometheus?(): string;
  logger: Logger;
  /** Whether the ADS stream is up (for /stats). */
  xdsConnected(): boolean;
  /** The workload certificate in force (for /certs); undefined without an identity. */
  certificate?(): WorkloadCertificate | undefined;
  quit(): void;
  /** The last failed requests (/recent_failures). */
  failures?: RecentFailures;
}

function send(res: http.ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-cache" });
  res.end(body);
}

function json(res: http.ServerResponse, value: unknown): void {
  send(res, 200, `${JSON.stringify(value, null, 2)}\n`, "application/json");
}

export function statsText(d: AdminDeps): string {
  const lines = new Map<string, number>();
  for (const [k, v] of d.stats.entries()) lines.set(k, v);
  for (const [t, n] of Object.entries(d.state.counters.accepted)) lines.set(`xds.${t}.update_success`, n);
  for (const [t, n] of Object.entries(d.state.counters.rejected)) lines.set(`xds.${t}.update_rejected`, n);
  lines.set("xds.connected", d.xdsConnected() ? 1 : 0);
  lines.set("xds.snapshot_generation", d.state.current.generation);
  for (const c of d.state.current.clusters.keys()) {
    const rt = d.runtimes.peek(c);
    lines.set(`cluster.${c}.upstream_rq_total`, rt?.rqTotal ?? 0);
    lines.set(`cluster.${c}.upstream_rq_retry`, rt?.rqRetry ?? 0);
    lines.set(`cluster.${c}.upstream_rq_active`, rt?.inflight ?? 0);
    lines.set(`cluster.${c}.upstream_rq_pending_active`, rt?.pending ?? 0);
    for (const [k, v] of clusterCounters(rt)) lines.set(`cluster.${c}.${k}`, v);
  }
  return [...lines.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join("\n") + "\n";
}

export function route(d: AdminDeps, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://admin");
  const asJson = url.searchParams.get("format") === "json";
  switch (url.pathname) {
    case "/ready": {
      if (d.state.initialized) return send(res, 200, "LIVE\n");
      return send(res, 503, `PRE_INITIALIZING: waiting for ${d.state.missing().join(", ")}\n`);
    }
    case "/config_dump":
      return json(res, configDump(d.state));
    case "/clusters":
      return asJson ? json(res, clustersJson(d.state.current, d.runtimes)) : send(res, 200, clustersText(d.state.current, d.runtimes));
    case "/listeners": {
      const st = d.listeners.status();
      if (asJson) return json(res, { listener_statuses: st.map((s) => ({ name: s.name, local_address: { socket_address: { address: s.address, port_value: s.port } }, state: s.state, error: s.error })) });
      return send(res, 200, st.map((s) => `${s.name}::${s.address}:${s.port}${s.state === "listening" ? "" : `::${s.state}${s.error ? `::${s.error}` : ""}`}`).join("\n") + "\n");
    }
    case "/stats":
      return send(res, 200, statsText(d));
    case "/certs":
      return json(res, certsView(d.certificate?.()));
    case "/recent_failures":
      return json(res, { total: d.failures?.total ?? 0, failures: d.failures?.list() ?? [] });
    case "/stats/prometheus":
      if (!d.prometheus) return send(res, 404, "no Prometheus metrics on this proxy\n");
      return sendPrometheus(res, d.prometheus());
    case "/quitquitquit":
      if (req.method !== "POST") return send(res, 405, "use POST /quitquitquit\n");
      send(res, 200, "OK\n");
      d.logger.info("quit requested through admin");
      d.quit();
      return;
    case "/":
      return send(res, 200, "admin: /ready /config_dump /clusters /listeners /certs /recent_failures /stats /stats/prometheus POST /quitquitquit\n");
    default:
      return send(res, 404, `no admin page ${url.pathname}; see /\n`);
  }
}

export async function startAdmin(d: AdminDeps, host: string, port: number): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    try {
      route(d, req, res);
    } catch (err) {
      d.logger.error({ err: (err as Error).message }, "admin page failed");
      if (!res.headersSent) send(res, 500, "admin error\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : port };
}
