// Where Prometheus scrapes a sidecar: podIP:15090/stats/prometheus, as on Istio's sidecars
// (the same page is on the admin port too). The page holds Istio's standard metrics and the
// proxy's own counters as envoy_* counters.
import http from "node:http";
import type { Logger } from "pino";
import type { ProxyStats } from "../stats.ts";
import type { IstioMetrics } from "./istio-metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, metricName, writeCounter } from "./prometheus-text.ts";

/** Istio's port and path for sidecar metrics. */
export const METRICS_PORT = 15090;
export const METRICS_PATH = "/stats/prometheus";

export function prometheusPage(metrics: IstioMetrics | undefined, stats: ProxyStats): string {
  let out = metrics ? metrics.render() : "";
  if (metrics) out += writeCounter("mizzen_istio_metrics_dropped_total", "Requests left out of the istio_* metrics because the series or peer limit was reached.", [{ labels: "", value: metrics.dropped }]);
  const counters = stats.entries().sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [name, value] of counters) out += writeCounter(`envoy_${metricName(name)}`, `Proxy counter ${name}.`, [{ labels: "", value }]);
  return out;
}

export function sendPrometheus(res: http.ServerResponse, body: string): void {
  res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": Buffer.byteLength(body), "cache-control": "no-cache" });
  res.end(body);
}

/**
 * Serves `render()` at /stats/prometheus. A port that cannot be bound is logged and the
 * proxy goes on without it (metrics must never stop traffic); resolves to undefined then.
 */
export async function startMetricsServer(host: string, port: number, render: () => string, logger: Logger): Promise<{ server: http.Server; port: number } | undefined> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`metrics are at ${METRICS_PATH}\n`);
      return;
    }
    try {
      sendPrometheus(res, render());
    } catch (err) {
      logger.error({ err: (err as Error).message }, "rendering metrics failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("metrics error\n");
    }
  });
  const bound = await new Promise<boolean>((resolve) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      logger.error({ address: `${host}:${port}`, err: err.message }, `cannot serve metrics on ${host}:${port}; set another metrics address or free the port`);
      resolve(false);
    });
    server.listen({ host, port }, () => resolve(true));
  });
  if (!bound) return undefined;
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : port };
}
