// STRICT_DNS clusters, as Envoy runs them: every endpoint's host name is resolved on its own
// schedule (dns-resolver.ts) and each address in the answer becomes an endpoint of its own,
// with the port, weight, metadata and TLS of the endpoint it came from. When an answer changes,
// the cluster's endpoints are replaced through `apply` (the proxy state makes a new snapshot),
// so balancers, outlier detection and pools follow the new set; a failed lookup changes
// nothing. Until a name's first answer arrives, its endpoint keeps the name (Node then
// resolves it per connection), so traffic never waits for the first lookup.
import net from "node:net";
import type { Logger } from "pino";
import type { CompiledCluster, EndpointAddress } from "../state/types.ts";
import { DEFAULT_DNS_REFRESH_MS } from "../state/compile-dns.ts";
import { HostnameResolution, systemDnsLookup, timerScheduler, type DnsLookup, type Scheduler } from "./dns-resolver.ts";
import { silentLogger } from "../../log/logger.ts";

export interface StrictDnsOptions {
  /** Installs a cluster's resolved endpoints (ProxyState.setDnsEndpoints). */
  apply(cluster: CompiledCluster, endpoints: EndpointAddress[]): void;
  lookup?: DnsLookup;
  schedule?: Scheduler;
  logger?: Logger;
}

/**
 * Whether an endpoint's name is replaced by its addresses. TLS that checks the server against
 * the endpoint's own name (no SNI, no expected SANs) keeps the name, as it would fail against
 * an address; IP endpoints have nothing to resolve.
 */
export function resolvesByName(ep: EndpointAddress): boolean {
  if (net.isIP(ep.host) !== 0) return false;
  const t = ep.tls;
  return !(t && t.kind === "files" && !t.sni && t.sans.length === 0);
}

/** The endpoints with each resolvable name replaced by its known addresses (first key wins on a clash). */
export function resolvedEndpoints(endpoints: readonly EndpointAddress[], addressesOf: (hostname: string) => readonly string[] | undefined): EndpointAddress[] {
  const out: EndpointAddress[] = [];
  const keys = new Set<string>();
  const add = (ep: EndpointAddress) => {
    if (keys.has(ep.key)) return;
    keys.add(ep.key);
    out.push(ep);
  };
  for (const ep of endpoints) {
    const addresses = resolvesByName(ep) ? addressesOf(ep.host) : undefined;
    if (!addresses) {
      add(ep);
      continue;
    }
    for (const a of addresses) add({ ...ep, host: a, key: a.includes(":") ? `[${a}]:${ep.port}` : `${a}:${ep.port}` });
  }
  return out;
}

interface Shared {
  resolution: HostnameResolution;
  /** Names of the clusters that use it. */
  users: Set<string>;
}

interface Tracked {
  /** The cluster as CDS delivered it (names, not addresses). */
  cluster: CompiledCluster;
  keys: string[];
  /** Keys of the endpoints last applied, to skip applying an unchanged set. */
  applied: string | undefined;
}

export class StrictDnsClusters {
  private readonly o: StrictDnsOptions;
  private readonly lookup: DnsLookup;
  private readonly schedule: Scheduler;
  private readonly log: Logger;
  /** By "hostname|refreshMs|respectTtl": clusters with equal settings share one lookup loop. */
  private readonly resolutions = new Map<string, Shared>();
  private readonly clusters = new Map<string, Tracked>();
  private flushing = false;
  private closed = false;

  constructor(o: StrictDnsOptions) {
    this.o = o;
    this.lookup = o.lookup ?? systemDnsLookup;
    this.schedule = o.schedule ?? timerScheduler;
    this.log = o.logger ?? silentLogger;
  }

  /** Follows the STRICT_DNS clusters of the latest CDS (as delivered, before resolution). */
  sync(clusters: readonly CompiledCluster[]): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const c of clusters) {
      if (c.type !== "STRICT_DNS") continue;
      seen.add(c.name);
      const cur = this.clusters.get(c.name);
      if (cur?.cluster === c) continue;
      const keys = this.keysFor(c);
      for (const k of keys) this.use(k, c.name);
      if (cur) for (const k of cur.keys) if (!keys.includes(k)) this.release(k, c.name);
      this.clusters.set(c.name, { cluster: c, keys, applied: undefined });
    }
    for (const [name, t] of this.clusters) {
      if (seen.has(name)) continue;
      for (const k of t.keys) this.release(k, name);
      this.clusters.delete(name);
    }
    this.flush();
  }

  /** Current addresses of a name as a cluster with these settings sees them (for admin and tests). */
  addressesOf(cluster: CompiledCluster, hostname: string): readonly string[] | undefined {
    return this.resolutions.get(keyOf(cluster, hostname))?.resolution.addresses;
  }

  close(): void {
    this.closed = true;
    for (const s of this.resolutions.values()) s.resolution.stop();
    this.resolutions.clear();
    this.clusters.clear();
  }

  private keysFor(c: CompiledCluster): string[] {
    const keys = new Set<string>();
    for (const ep of c.endpoints) if (resolvesByName(ep)) keys.add(keyOf(c, ep.host));
    return [...keys];
  }

  private use(key: string, clusterName: string): void {
    const s = this.resolutions.get(key);
    if (s) {
      s.users.add(clusterName);
      return;
    }
    const [hostname, refresh, respect] = key.split("|");
    const resolution = new HostnameResolution({
      hostname: hostname!,
      refreshMs: Number(refresh),
      respectTtl: respect === "ttl",
      lookup: this.lookup,
      schedule: this.schedule,
      onChange: (addresses, previous) => {
        this.log.info({ hostname, addresses, previous, clusters: [...(this.resolutions.get(key)?.users ?? [])] }, previous ? "DNS answer changed; endpoints updated" : "DNS resolved; endpoints set");
        this.flush();
      },
      onFailure: (reason, kept) => {
        // One line per failure streak: the first, then every tenth, so a dead name does not flood the log.
        const n = resolution.failures;
        if (n === 1 || n % 10 === 0) this.log.warn({ hostname, reason, failures: n, kept }, kept ? "DNS lookup failed; keeping the last good addresses" : "DNS lookup failed; the endpoint keeps its name until one succeeds");
      },
    });
    this.resolutions.set(key, { resolution, users: new Set([clusterName]) });
    resolution.start();
  }

  private release(key: string, clusterName: string): void {
    const s = this.resolutions.get(key);
    if (!s) return;
    s.users.delete(clusterName);
    if (s.users.size > 0) return;
    s.resolution.stop();
    this.resolutions.delete(key);
  }

  /** Applies every cluster whose resolved endpoint set differs from the one last applied. */
  private flush(): void {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      for (const t of this.clusters.values()) {
        const eps = resolvedEndpoints(t.cluster.endpoints, (h) => this.resolutions.get(keyOf(t.cluster, h))?.resolution.addresses);
        const applied = eps.map((e) => e.key).join(",");
        // Nothing resolved yet and nothing applied: the snapshot already holds these endpoints.
        if (applied === t.applied || (t.applied === undefined && eps.every((e, i) => e === t.cluster.endpoints[i]) && eps.length === t.cluster.endpoints.length)) continue;
        t.applied = applied;
        this.o.apply(t.cluster, eps);
      }
    } finally {
      this.flushing = false;
    }
  }
}

function keyOf(c: CompiledCluster, hostname: string): string {
  const d = c.dnsRefresh;
  return `${hostname}|${d?.refreshMs ?? DEFAULT_DNS_REFRESH_MS}|${d?.respectTtl ? "ttl" : "rate"}`;
}
