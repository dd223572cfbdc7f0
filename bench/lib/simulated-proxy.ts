// One simulated sidecar for the control-plane scale benchmark: the sidecar's own AdsClient
// (real gRPC, real protobuf decoding of every resource, ACK/NACK as the sidecar sends them),
// subscribing as the sidecar does: LDS and CDS wildcard, then RDS for the route names its
// listeners use and EDS for its EDS clusters. It remembers when the RouteConfiguration whose
// svc-0 virtual host names a given cluster arrived; the ACK goes out right after that callback.
//
// Each simulated proxy gets its own HTTP/2 connection (grpc-js would otherwise share one
// subchannel between every client of this process), as real proxies on their own hosts have.
import { performance } from "node:perf_hooks";
import { AdsClient } from "../../src/xds/client.ts";
import { TYPE } from "../../src/xds/envoy-types.ts";
import type { ProxyNode } from "../../src/xds/node.ts";

/** Every value of `key` anywhere in a decoded resource (route_config_name in an HCM, ...). */
export function valuesOf(obj: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(obj)) for (const v of obj) valuesOf(v, key, out);
  else if (obj && typeof obj === "object") {
    for (const [k, v] of Object.entries(obj)) {
      if (k === key && typeof v === "string") out.push(v);
      else valuesOf(v, key, out);
    }
  }
  return out;
}

/** The svc-0 virtual hosts of decoded RouteConfigurations, as JSON (small: one service's routes). */
export function watchedVirtualHosts(routeConfigs: { resource: any }[], hostPrefix: string): string {
  const picked: unknown[] = [];
  for (const r of routeConfigs) {
    for (const vh of (r.resource?.virtual_hosts as { name?: string }[] | undefined) ?? []) {
      if (vh.name?.startsWith(hostPrefix)) picked.push(vh);
    }
  }
  return JSON.stringify(picked);
}

export class SimulatedProxy {
  readonly client: AdsClient;
  private readonly hostPrefix: string;
  private waiting: { marker: string; resolve: (t: number) => void } | undefined;
  private watched = "";
  responses = 0;
  resources = 0;

  constructor(xds: string, i: number, hostPrefix: string) {
    this.hostPrefix = hostPrefix;
    const ip = `127.145.${1 + (i >> 8)}.${1 + (i & 255)}`;
    const node: ProxyNode = {
      id: `sidecar~${ip}~sim-${i}.default~default.svc.cluster.local`,
      type: "sidecar", ip, name: `sim-${i}`, namespace: "default", labels: { app: "sim" }, serviceAccount: "default",
      ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false, proxyVersion: "bench",
    };
    this.client = new AdsClient({
      server: xds,
      node,
      onResponse: (t, r) => this.onResponse(t, r),
      channelOptions: { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": 256 << 20 },
    });
    this.client.subscribeAll(TYPE.cluster);
    this.client.subscribeAll(TYPE.listener);
  }

  private onResponse(typeUrl: string, resources: { name: string; resource: any }[]): null {
    this.responses++;
    this.resources += resources.length;
    if (typeUrl === TYPE.listener) {
      this.client.subscribe(TYPE.route, resources.flatMap((r) => valuesOf(r.resource, "route_config_name")));
    } else if (typeUrl === TYPE.cluster) {
      const eds = resources.filter((r) => r.resource.type === "EDS").map((r) => (r.resource.eds_cluster_config?.service_name as string | undefined) || r.name);
      this.client.subscribe(TYPE.endpoint, eds);
    } else if (typeUrl === TYPE.route) {
      this.watched = watchedVirtualHosts(resources, this.hostPrefix);
      const w = this.waiting;
      if (w && this.watched.includes(w.marker)) {
        this.waiting = undefined;
        w.resolve(performance.now());
      }
    }
    return null;
  }

  /** Resolves with the time the routes first hold marker (now, if they already do). */
  routesWith(marker: string): Promise<number> {
    if (this.watched.includes(marker)) return Promise.resolve(performance.now());
    return new Promise((resolve) => (this.waiting = { marker, resolve }));
  }
}
