// The proxy's xDS state: the latest accepted resources per type, compiled, and the current
// immutable Snapshot. Every response is validated and compiled into a NEW snapshot; on any
// error the response is NACKed (the reason is returned) and the previous snapshot stays.
// LDS and CDS responses are the full set; RDS and EDS responses carry only what they name,
// and routes / endpoints no listener or cluster references any more are dropped and unsubscribed.
import type { Logger } from "pino";
import { TYPE } from "../../xds/envoy-types.ts";
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from "../../xds/envoy-types.ts";
import type { CompiledCluster, CompiledListener, CompiledRouteTable, EndpointAddress, Received, Snapshot } from "./types.ts";
import { compileListener } from "./compile-listener.ts";
import { compileRouteTable } from "./compile-route-table.ts";
import { compileCluster, compileEndpoints, withEndpoints } from "./compile-cluster.ts";
import { assembleSnapshot, EMPTY_SNAPSHOT, type DnsResolvedCluster } from "./assemble.ts";
import { silentLogger } from "../../log/logger.ts";

export interface Entry<R, C> extends Received<R> { compiled: C; json: string }
export interface NackRecord { typeUrl: string; version: string; reason: string; at: Date }

export interface ProxyStateOptions {
  logger?: Logger;
  /** Called (deferred, after the ACK went out) when the set of RDS / EDS names to watch changes. */
  subscribe?(typeUrl: string, names: string[]): void;
  /** Called after each accepted update with the new snapshot. */
  onSnapshot?(snapshot: Snapshot): void;
}

export interface XdsCounters { accepted: Record<string, number>; rejected: Record<string, number> }

type Incoming = { name: string; resource: unknown }[];

const SHORT: Record<string, string> = { [TYPE.listener]: "lds", [TYPE.route]: "rds", [TYPE.cluster]: "cds", [TYPE.endpoint]: "eds" };

export class ProxyState {
  /** The snapshot new requests use. Replaced, never mutated. */
  current: Snapshot = EMPTY_SNAPSHOT;
  lastNack: NackRecord | undefined;
  readonly counters: XdsCounters = { accepted: {}, rejected: {} };
  /** True once a complete snapshot existed (LDS+CDS and all they reference); stays true. */
  initialized = false;
  private listeners = new Map<string, Entry<Listener, CompiledListener | undefined>>();
  private routes = new Map<string, Entry<RouteConfiguration, CompiledRouteTable>>();
  private clusters = new Map<string, Entry<Cluster, CompiledCluster>>();
  private endpoints = new Map<string, Entry<ClusterLoadAssignment, EndpointAddress[]>>();
  /** STRICT_DNS clusters with their host names resolved (upstream/strict-dns.ts keeps them current). */
  private dnsResolved = new Map<string, DnsResolvedCluster>();
  private receivedLds = false;
  private receivedCds = false;
  private subscribed: Record<string, string> = {};
  private readonly log: Logger;
  private readonly opts: ProxyStateOptions;

  constructor(opts: ProxyStateOptions = {}) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
  }

  /** AdsClient's onResponse: null = ACK, a string = NACK reason. Never throws. */
  handleResponse(typeUrl: string, resources: Incoming, version: string): string | null {
    const kind = SHORT[typeUrl];
    if (!kind) return null; // secrets and others: not used by this proxy yet
    try {
      this.apply(typeUrl, resources ?? [], version);
      this.counters.accepted[kind] = (this.counters.accepted[kind] ?? 0) + 1;
      return null;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.counters.rejected[kind] = (this.counters.rejected[kind] ?? 0) + 1;
      this.lastNack = { typeUrl, version, reason, at: new Date() };
      this.log.warn({ type: kind, version, reason }, "xDS update rejected; keeping the previous configuration");
      return reason;
    }
  }

  /** What is still missing before the first complete snapshot. */
  missing(): string[] {
    const out: string[] = [];
    if (!this.receivedLds) out.push("listeners (LDS)");
    if (!this.receivedCds) out.push("clusters (CDS)");
    for (const r of this.current.missingRoutes) out.push(`route ${r} (RDS)`);
    for (const e of this.current.missingEndpoints) out.push(`endpoints ${e} (EDS)`);
    return out;
  }

  private apply(typeUrl: string, resources: Incoming, version: string): void {
    const now = new Date();
    let listeners = this.listeners, routes = this.routes, clusters = this.clusters, endpoints = this.endpoints;
    switch (typeUrl) {
      case TYPE.listener:
        listeners = replaceAll(this.listeners, resources, version, now, (r: Listener) => r.name, compileListener);
        break;
      case TYPE.cluster:
        clusters = replaceAll(this.clusters, resources, version, now, (r: Cluster) => r.name, compileCluster);
        break;
      case TYPE.route:
        routes = merge(this.routes, resources, version, now, (r: RouteConfiguration) => r.name, (r) => compileRouteTable(r, `route_config "${r.name}"`));
        break;
      case TYPE.endpoint:
        endpoints = merge(this.endpoints, resources, version, now, (r: ClusterLoadAssignment) => r.cluster_name, (r) => compileEndpoints(r, `cluster_load_assignment "${r.cluster_name}"`));
        break;
    }
    // Routes and endpoints nothing references any more are dropped with their subscription.
    if (typeUrl === TYPE.listener) routes = keepOnly(routes, rdsNamesOf([...listeners.values()].map((e) => e.compiled)));
    if (typeUrl === TYPE.cluster) endpoints = keepOnly(endpoints, edsNamesOf([...clusters.values()].map((e) => e.compiled)));
    const snap = assembleSnapshot(this.current.generation + 1, listeners, routes, clusters, endpoints, this.dnsResolved);
    // Commit: nothing above threw, so the update is accepted.
    this.listeners = listeners;
    this.routes = routes;
    this.clusters = clusters;
    this.endpoints = endpoints;
    if (typeUrl === TYPE.listener) this.receivedLds = true;
    if (typeUrl === TYPE.cluster) this.receivedCds = true;
    this.current = snap;
    if (this.receivedLds && this.receivedCds && snap.missingRoutes.length === 0 && snap.missingEndpoints.length === 0) this.initialized = true;
    this.log.debug({ generation: snap.generation, type: SHORT[typeUrl], version }, "snapshot updated");
    this.updateSubscriptions(typeUrl, snap);
    this.opts.onSnapshot?.(snap);
  }

  /** STRICT_DNS clusters as CDS delivered them: endpoints still name hosts. */
  strictDnsClusters(): CompiledCluster[] {
    const out: CompiledCluster[] = [];
    for (const e of this.clusters.values()) if (e.compiled.type === "STRICT_DNS") out.push(e.compiled);
    return out;
  }

  /**
   * The addresses `source`'s host names resolve to now: a new snapshot with them in place of
   * the names. Ignored when CDS has replaced or removed the cluster since (a later answer for
   * the new one follows). Not an xDS update: nothing is ACKed or counted.
   */
  setDnsEndpoints(source: CompiledCluster, endpoints: EndpointAddress[]): void {
    if (this.clusters.get(source.name)?.compiled !== source) return;
    const next = new Map<string, DnsResolvedCluster>();
    for (const [name, r] of this.dnsResolved) if (this.clusters.get(name)?.compiled === r.source) next.set(name, r);
    next.set(source.name, { source, cluster: withEndpoints(source, endpoints) });
    this.dnsResolved = next;
    const snap = assembleSnapshot(this.current.generation + 1, this.listeners, this.routes, this.clusters, this.endpoints, next);
    this.current = snap;
    this.log.debug({ generation: snap.generation, cluster: source.name, endpoints: endpoints.map((e) => e.key) }, "snapshot updated from DNS");
    this.opts.onSnapshot?.(snap);
  }

  private updateSubscriptions(typeUrl: string, snap: Snapshot): void {
    if (typeUrl === TYPE.listener) this.maybeSubscribe(TYPE.route, referencedRoutes(snap));
    if (typeUrl === TYPE.cluster) this.maybeSubscribe(TYPE.endpoint, referencedEds(snap));
  }

  private maybeSubscribe(typeUrl: string, names: string[]): void {
    const key = names.join("\n");
    // [] is "none": the client only sends it when it takes back earlier names.
    const previous = this.subscribed[typeUrl];
    if (previous === key || (previous === undefined && names.length === 0)) return;
    this.subscribed[typeUrl] = key;
    const sub = this.opts.subscribe;
    if (sub) setImmediate(() => sub(typeUrl, names));
  }
}

function rdsNamesOf(listeners: Iterable<CompiledListener | undefined>): Set<string> {
  const names = new Set<string>();
  for (const l of listeners) for (const fc of l?.filterChains ?? []) if (fc.hcm?.rdsName) names.add(fc.hcm.rdsName);
  return names;
}

function edsNamesOf(clusters: Iterable<CompiledCluster>): Set<string> {
  const names = new Set<string>();
  for (const c of clusters) if (c.edsName) names.add(c.edsName);
  return names;
}

function referencedRoutes(snap: Snapshot): string[] {
  return [...rdsNamesOf(snap.listeners.values())].sort();
}

function referencedEds(snap: Snapshot): string[] {
  return [...edsNamesOf(snap.clusters.values())].sort();
}

function keepOnly<V>(entries: Map<string, V>, names: ReadonlySet<string>): Map<string, V> {
  for (const name of entries.keys()) if (!names.has(name)) return new Map([...entries].filter(([n]) => names.has(n)));
  return entries;
}

function nameOf<R>(item: { name: string; resource: unknown }, getName: (r: R) => string): string {
  const r = item?.resource as R;
  if (!r || typeof r !== "object") throw new Error(`resource "${item?.name}" is empty`);
  const n = getName(r) || item.name;
  if (!n) throw new Error("a resource has no name");
  return n;
}

function build<R, C>(prev: Map<string, Entry<R, C>>, name: string, r: R, version: string, now: Date, compile: (r: R) => C): Entry<R, C> {
  const json = JSON.stringify(r);
  const old = prev.get(name);
  // Unchanged resource: keep its compiled form (and the caches inside it).
  if (old && old.json === json) return { ...old, version };
  return { name, resource: r, version, lastUpdated: now, compiled: compile(r), json };
}

function replaceAll<R, C>(prev: Map<string, Entry<R, C>>, items: Incoming, version: string, now: Date, getName: (r: R) => string, compile: (r: R) => C): Map<string, Entry<R, C>> {
  const next = new Map<string, Entry<R, C>>();
  for (const item of items) {
    const name = nameOf(item, getName);
    if (next.has(name)) throw new Error(`duplicate resource name "${name}" in one response`);
    next.set(name, build(prev, name, item.resource as R, version, now, compile));
  }
  return next;
}

function merge<R, C>(prev: Map<string, Entry<R, C>>, items: Incoming, version: string, now: Date, getName: (r: R) => string, compile: (r: R) => C): Map<string, Entry<R, C>> {
  const next = new Map(prev);
  const seen = new Set<string>();
  for (const item of items) {
    const name = nameOf(item, getName);
    if (seen.has(name)) throw new Error(`duplicate resource name "${name}" in one response`);
    seen.add(name);
    next.set(name, build(prev, name, item.resource as R, version, now, compile));
  }
  return next;
}
