// The dashboard on the control plane's debug server: /api/dashboard/graph, /details and
// /proxies (JSON, see contract.ts), and the page itself under /dashboard/. Every API request
// keeps the sidecar scraper running for another minute; the first one starts it and waits for
// its first round, so even the first graph has the mesh's nodes and edges in it.
import type { Logger } from "pino";
import type { ConfigStore } from "../../config/store.ts";
import type { AdsServer } from "../../xds/server.ts";
import type { ProxyNode } from "../../xds/node.ts";
import type { MeshState } from "../mesh-state.ts";
import type { DebugHandler, DebugReply } from "../debug-server.ts";
import { METRICS_PORT } from "../../proxy/telemetry/metrics-server.ts";
import { MetricsScraper, type ScrapeTarget, type ScraperOptions } from "./scraper.ts";
import { buildGraph } from "./graph.ts";
import { edgeDetails, nodeDetails } from "./details.ts";
import { proxiesView } from "./proxies-view.ts";
import { DEFAULT_UI_DIR, serveStatic } from "./static-files.ts";
import type { GraphResponse } from "./contract.ts";

export interface DashboardOptions {
  store: ConfigStore;
  state: MeshState;
  ads: AdsServer;
  /** The built front end (default ui/dist of this checkout). */
  uiDir?: string;
  /** Scraper tuning (interval, idle time, timeout, window); tests shorten them. */
  scrape?: Omit<ScraperOptions, "targets" | "logger">;
  logger?: Logger;
}

export interface Dashboard {
  routes: Record<string, DebugHandler>;
  scraper: MetricsScraper;
  close(): void;
}

/** Every connected proxy that serves metrics; proxyless gRPC clients have none. */
export function scrapeTargets(connections: readonly { node: ProxyNode }[]): ScrapeTarget[] {
  const out: ScrapeTarget[] = [];
  for (const { node } of connections) {
    if (node.type === "grpc" || !node.ip || node.metricsPort === 0) continue;
    out.push({ proxy: node.id, host: node.ip, port: node.metricsPort ?? METRICS_PORT });
  }
  return out;
}

export function createDashboard(opts: DashboardOptions): Dashboard {
  const { store, state, ads } = opts;
  const uiDir = opts.uiDir ?? DEFAULT_UI_DIR;
  const scraper = new MetricsScraper({ ...opts.scrape, targets: () => scrapeTargets(ads.connections()), ...(opts.logger ? { logger: opts.logger } : {}) });

  const graph = (): GraphResponse => {
    const registry = state.registry();
    const sync = new Map(ads.syncStatus().map((s) => [s.connectionId, s]));
    return buildGraph({
      now: Date.now(),
      windowSeconds: scraper.windowSeconds,
      scrape: scraper.lastReport(),
      samples: scraper.samples(),
      services: [...registry.services.values()],
      workloads: [...registry.workloads.values()],
      proxies: ads.connections().map((c) => ({ node: c.node, types: sync.get(c.id)?.types ?? [] })),
    });
  };
  /** Notes the interest and waits for the scraper's first round when it just started. */
  const looked = async (): Promise<void> => {
    scraper.touch();
    await scraper.ready();
  };

  const routes: Record<string, DebugHandler> = {
    "/api/dashboard/graph": async () => {
      await looked();
      return { body: graph(), headers: { "cache-control": "no-store" } };
    },
    "/api/dashboard/details": async (q): Promise<DebugReply> => {
      const node = q.get("node");
      const edge = q.get("edge");
      if (!node && !edge) return { status: 400, body: { error: "pass ?node=<id> or ?edge=<id> (ids as /api/dashboard/graph lists them)" } };
      await looked();
      const input = { graph: graph(), objects: state.objects(), status: store.status(), registry: state.registry(), mesh: state.mesh };
      const found = node ? nodeDetails(input, node) : edgeDetails(input, edge!);
      if (!found) return { status: 404, body: { error: `no ${node ? `node "${node}"` : `edge "${edge}"`} in the graph; ids are listed by /api/dashboard/graph` } };
      return { body: found, headers: { "cache-control": "no-store" } };
    },
    "/api/dashboard/proxies": () => {
      scraper.touch();
      return { body: proxiesView(ads.syncStatus(), ads.connections(), Date.now()), headers: { "cache-control": "no-store" } };
    },
    "/dashboard": () => ({ status: 301, body: "the dashboard is at /dashboard/\n", headers: { location: "/dashboard/" } }),
    "/dashboard/*": (_q, path) => serveStatic(uiDir, "/dashboard/", path),
  };
  return { routes, scraper, close: () => scraper.close() };
}
