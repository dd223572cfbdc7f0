// Links compiled resources into one immutable Snapshot: listeners get their RDS route tables,
// EDS clusters get their endpoints. Pure: the same inputs give an equal snapshot.
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from "../../xds/envoy-types.ts";
import type { CompiledCluster, CompiledListener, CompiledRouteTable, EndpointAddress, Received, Snapshot } from "./types.ts";
import { withEndpoints } from "./compile-cluster.ts";

interface WithCompiled<R, C> extends Received<R> { compiled: C }

/** A STRICT_DNS cluster as CDS delivered it (`source`) and with its resolved endpoints (`cluster`). */
export interface DnsResolvedCluster { source: CompiledCluster; cluster: CompiledCluster }

export const EMPTY_SNAPSHOT: Snapshot = {
  generation: 0,
  listeners: new Map(),
  clusters: new Map(),
  routeTables: new Map(),
  missingRoutes: [],
  missingEndpoints: [],
  raw: { listeners: new Map(), routes: new Map(), clusters: new Map(), endpoints: new Map() },
};

export function assembleSnapshot(
  generation: number,
  listeners: ReadonlyMap<string, WithCompiled<Listener, CompiledListener | undefined>>,
  routes: ReadonlyMap<string, WithCompiled<RouteConfiguration, CompiledRouteTable>>,
  clusters: ReadonlyMap<string, WithCompiled<Cluster, CompiledCluster>>,
  endpoints: ReadonlyMap<string, WithCompiled<ClusterLoadAssignment, EndpointAddress[]>>,
  dnsResolved?: ReadonlyMap<string, DnsResolvedCluster>,
): Snapshot {
  const routeTables = new Map<string, CompiledRouteTable>();
  for (const [name, e] of routes) routeTables.set(name, e.compiled);
  const missingRoutes = new Set<string>();
  const outListeners = new Map<string, CompiledListener>();
  for (const [name, e] of listeners) {
    const l = e.compiled;
    if (!l) continue;
    const filterChains = l.filterChains.map((fc) => {
      if (!fc.hcm?.rdsName) return fc;
      const table = routeTables.get(fc.hcm.rdsName);
      if (!table) missingRoutes.add(fc.hcm.rdsName);
      return { ...fc, hcm: { ...fc.hcm, routes: table } };
    });
    outListeners.set(name, { ...l, filterChains });
  }
  const missingEndpoints = new Set<string>();
  const outClusters = new Map<string, CompiledCluster>();
  for (const [name, e] of clusters) {
    const c = e.compiled;
    if (c.edsName) {
      const eps = endpoints.get(c.edsName);
      if (!eps) missingEndpoints.add(c.edsName);
      outClusters.set(name, withEndpoints(c, eps?.compiled ?? []));
    } else {
      // A STRICT_DNS cluster with its names resolved, while CDS still has the cluster it was resolved from.
      const r = dnsResolved?.get(name);
      outClusters.set(name, r && r.source === c ? r.cluster : c);
    }
  }
  return {
    generation,
    listeners: outListeners,
    clusters: outClusters,
    routeTables,
    missingRoutes: [...missingRoutes].sort(),
    missingEndpoints: [...missingEndpoints].sort(),
    raw: { listeners, routes, clusters, endpoints },
  };
}
