// Helpers for the proxy's tests: Envoy resources built by hand in envoy-types.ts form, a
// data plane fed directly (no xDS client), real upstream servers and a proxy-style client.
// Loopback only, ephemeral ports only.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { TYPE } from "../xds/envoy-types.ts";
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, VirtualHost, Route } from "../xds/envoy-types.ts";
import { createDataPlane, type DataPlane } from "./main.ts";

export function hcmListener(name: string, o: { rds?: string; routeConfig?: RouteConfiguration; inbound?: boolean; accessLog?: boolean; host?: string; port?: number } = {}): Listener {
  return {
    name,
    address: { socket_address: { address: o.host ?? "127.0.0.1", port_value: o.port ?? 0 } },
    traffic_direction: o.inbound ? "INBOUND" : "OUTBOUND",
    filter_chains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": TYPE.hcm,
          stat_prefix: name,
          ...(o.rds ? { rds: { route_config_name: o.rds, config_source: { ads: {} } } } : {}),
          ...(o.routeConfig ? { route_config: o.routeConfig } : {}),
          http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
          ...(o.accessLog ? { access_log: [{ name: "envoy.access_loggers.file", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: "/dev/stdout" } }] } : {}),
        },
      }],
    }],
  };
}

export function routeConfig(name: string, virtualHosts: VirtualHost[]): RouteConfiguration {
  return { name, virtual_hosts: virtualHosts };
}

export function vhost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

export function toCluster(cluster: string, prefix = "/", extra: Partial<Route> = {}, action: Record<string, unknown> = {}): Route {
  return { match: { prefix }, route: { cluster, ...action }, ...extra };
}

export function edsCluster(name: string, extra: Partial<Cluster> = {}): Cluster {
  return { name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} } }, connect_timeout: { seconds: 1 }, ...extra };
}

export function cla(name: string, endpoints: { port: number; host?: string; health?: "HEALTHY" | "UNHEALTHY" }[]): ClusterLoadAssignment {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.host ?? "127.0.0.1", port_value: e.port } } }, health_status: e.health ?? "HEALTHY" })) }],
  };
}

export interface Resources { listeners?: Listener[]; routes?: RouteConfiguration[]; clusters?: Cluster[]; endpoints?: ClusterLoadAssignment[] }

/** Feeds resources as four xDS responses (CDS, EDS, LDS, RDS); returns the first NACK reason, if any. */
export async function feed(plane: DataPlane, r: Resources, version = "1"): Promise<string | null> {
  const s = plane.state;
  const steps: [string, { name: string; resource: unknown }[] | undefined][] = [
    [TYPE.cluster, r.clusters?.map((x) => ({ name: x.name, resource: x }))],
    [TYPE.endpoint, r.endpoints?.map((x) => ({ name: x.cluster_name, resource: x }))],
    [TYPE.listener, r.listeners?.map((x) => ({ name: x.name, resource: x }))],
    [TYPE.route, r.routes?.map((x) => ({ name: x.name, resource: x }))],
  ];
  let nack: string | null = null;
  for (const [type, items] of steps) {
    if (!items) continue;
    nack ??= s.handleResponse(type, items, version);
  }
  await plane.settled();
  return nack;
}

export async function startPlane(r: Resources, opts: { accessLog?: string[] } = {}): Promise<DataPlane & { port(listener: string): number }> {
  const plane = createDataPlane({ drainMs: 2000, accessLog: opts.accessLog ? (line) => opts.accessLog!.push(line) : () => {} });
  const nack = await feed(plane, r);
  if (nack) throw new Error(`test resources rejected: ${nack}`);
  return Object.assign(plane, {
    port(listener: string): number {
      const p = plane.listeners.port(listener);
      if (p === undefined) throw new Error(`listener ${listener} is not bound: ${JSON.stringify(plane.listeners.status())}`);
      return p;
    },
  });
}

export interface Upstream { port: number; server: http.Server; close(): Promise<void> }

/** A real upstream on 127.0.0.1; the default handler echoes who it is and what it got. */
export async function startUpstream(id: string, handler?: http.RequestListener): Promise<Upstream> {
  const server = http.createServer(handler ?? ((req, res) => {
    const body = JSON.stringify({ id, method: req.method, url: req.url, headers: req.headers, remotePort: req.socket.remotePort });
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-upstream": id });
      res.end(body);
    });
  }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** Sends a request through the proxy in absolute form, as an HTTP_PROXY client does. */
export function viaProxy(proxyPort: number, url: string, o: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: "127.0.0.1", port: proxyPort, method: o.method ?? "GET", path: url, headers: { host: u.host, ...o.headers }, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("test request timed out")));
    req.on("error", reject);
    req.end(o.body);
  });
}
