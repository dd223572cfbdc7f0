// Per-cluster runtime objects that outlive snapshots: the keep-alive connection pool (an
// http.Agent), the load balancer, circuit-breaker counters, outlier detection and per-host
// counters. Kept by cluster name and reused while new snapshots keep the cluster; a removed
// cluster's pool is closed once idle and its outlier timer stopped.
import http from "node:http";
import https from "node:https";
import type tls from "node:tls";
import type { CompiledCluster, EndpointAddress, LbPolicy, Snapshot } from "../state/types.ts";
import { sameEndpoints, type Balancer } from "./balancer.ts";
import { createBalancer } from "./load-balancer.ts";
import { OutlierDetector } from "./outlier-detector.ts";
import { H2Pool } from "./h2-pool.ts";
import { ClusterPools } from "./h1/cluster-pools.ts";

export class HostStats {
  rqTotal = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTimeout = 0;
  rqActive = 0;
  cxConnectFail = 0;
}

/** Cluster-level overflow counters (Envoy's names). */
export class ClusterOverflow {
  /** Requests refused by max_pending_requests or max_requests. */
  rqPendingOverflow = 0;
  /** Times a new connection was needed but max_connections was reached. */
  cxOverflow = 0;
  /** Retries not made because of max_retries. */
  rqRetryOverflow = 0;
}

export class ClusterRuntime {
  readonly name: string;
  readonly agent: http.Agent;
  /** One pool per client TLS options object (they change when the workload certificate rotates). */
  private readonly tlsAgents = new Map<string, { options: tls.ConnectionOptions; agent: https.Agent }>();
  /** HTTP/2 sessions (gRPC and http2_protocol_options clusters), one per endpoint. */
  readonly h2: H2Pool;
  /** The lean HTTP/1.1 client's pools (the default client); empty with MIZZEN_UPSTREAM_CLIENT=node. */
  readonly h1: ClusterPools;
  inflight = 0;
  removed = false;
  rqTotal = 0;
  rqRetry = 0;
  /** Tries waiting for a connection (connecting, or queued behind max_connections). */
  pending = 0;
  /** Retries scheduled or in flight. */
  retriesActive = 0;
  readonly overflow = new ClusterOverflow();
  readonly hosts = new Map<string, HostStats>();
  outlier: OutlierDetector | undefined;
  /** The compiled cluster the pool, balancer and detector were last set up for. */
  private cluster: CompiledCluster | undefined;
  private balancer: Balancer | undefined;
  private balancerList: readonly EndpointAddress[] = [];
  private balancerPolicy: LbPolicy | undefined;
  /** The cluster's whole endpoint list and lb settings the balancer was built for (priority health, ring sizes). */
  private balancerAll: readonly EndpointAddress[] = [];
  private balancerConfigKey: string | undefined;
  /** The healthy list minus ejected hosts, for (source list, ejection epoch). */
  private available: { from: readonly EndpointAddress[]; epoch: number; list: readonly EndpointAddress[] } | undefined;
  private readonly poolNames = new Map<string, string>();
  private readonly activeOf = (key: string): number => this.hosts.get(key)?.rqActive ?? 0;

  constructor(name: string, bindAddress?: string) {
    this.name = name;
    // LIFO keeps the hottest sockets busy and lets cold ones expire; the agent honours the
    // upstream's "Keep-Alive: timeout=N" hint so we do not reuse a socket it is closing.
    // Connections leave from the pod's own address (Envoy's upstream_bind_config), so the
    // peer sees which workload is calling.
    this.agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo", ...(bindAddress ? { localAddress: bindAddress } : {}) });
    this.bindAddress = bindAddress;
    this.h2 = new H2Pool(bindAddress);
    this.h1 = new ClusterPools(bindAddress);
  }

  private readonly bindAddress: string | undefined;
  private maxSockets = Infinity;
  private idleTimeoutMs: number | undefined;

  /**
   * The keep-alive pool for TLS connections made with `options`. The options go into the agent
   * itself: Node gives a request that carries its own checkServerIdentity a pool of its own
   * (no reuse, no session resumption), so per-request options would handshake every time.
   * When the options change (certificate rotation, new settings) the old pool stops keeping
   * connections: idle ones close now, busy ones when their response ends.
   */
  tlsAgentFor(options: tls.ConnectionOptions, key: string): https.Agent {
    const cur = this.tlsAgents.get(key);
    if (cur?.options === options) return cur.agent;
    if (cur) retireAgent(cur.agent);
    const agent = new https.Agent({ ...options, keepAlive: true, maxFreeSockets: 256, scheduling: "lifo", ...(this.bindAddress ? { localAddress: this.bindAddress } : {}) });
    agent.maxTotalSockets = this.maxSockets;
    (agent as https.Agent & { options: { timeout?: number } }).options.timeout = this.idleTimeoutMs;
    this.tlsAgents.set(key, { options, agent });
    return agent;
  }

  /** For ClusterRuntimes.closeAll. */
  destroyTlsAgentsNow(): void {
    this.destroyTlsAgents();
  }

  private destroyTlsAgents(): void {
    for (const t of this.tlsAgents.values()) t.agent.destroy();
    this.tlsAgents.clear();
  }

  host(key: string): HostStats {
    let h = this.hosts.get(key);
    if (!h) this.hosts.set(key, (h = new HostStats()));
    return h;
  }

  /** Open connections to one host (busy + idle in the pool). */
  connections(host: string, port: number): number {
    const prefix = `${host}:${port}:`;
    let n = 0;
    for (const [k, list] of Object.entries(this.agent.sockets)) if (k.startsWith(prefix)) n += list?.length ?? 0;
    for (const [k, list] of Object.entries(this.agent.freeSockets)) if (k.startsWith(prefix)) n += list?.length ?? 0;
    for (const { agent } of this.tlsAgents.values()) {
      for (const [k, list] of Object.entries(agent.sockets)) if (k.startsWith(prefix)) n += list?.length ?? 0;
      for (const [k, list] of Object.entries(agent.freeSockets)) if (k.startsWith(prefix)) n += list?.length ?? 0;
    }
    return n + this.h1.connections(`${host}:${port}`);
  }

  /** Follows the cluster of the snapshot a request runs on; cheap when nothing changed. */
  configure(c: CompiledCluster): void {
    if (this.cluster === c) return;
    const prev = this.cluster;
    this.cluster = c;
    this.agent.maxTotalSockets = c.circuitBreakers?.maxConnections ?? Infinity;
    this.maxSockets = c.circuitBreakers?.maxConnections ?? Infinity;
    this.idleTimeoutMs = c.idleTimeoutMs > 0 ? c.idleTimeoutMs : undefined;
    for (const { agent } of this.tlsAgents.values()) {
      agent.maxTotalSockets = this.maxSockets;
      (agent as https.Agent & { options: { timeout?: number } }).options.timeout = this.idleTimeoutMs;
    }
    // The agent closes pooled sockets idle this long (its timeout only acts on free sockets).
    (this.agent as http.Agent & { options: { timeout?: number } }).options.timeout = c.idleTimeoutMs > 0 ? c.idleTimeoutMs : undefined;
    this.h1.configure(this.maxSockets, this.idleTimeoutMs);
    const od = c.outlierDetection;
    const fresh = od !== undefined && this.outlier === undefined;
    if (!od) {
      this.outlier?.stop();
      this.outlier = undefined;
    } else if (!this.outlier) {
      this.outlier = new OutlierDetector(od);
    } else if (this.outlier.key !== od.key) {
      this.outlier.reconfigure(od);
    }
    if (this.outlier && (fresh || !prev || prev.endpoints !== c.endpoints)) this.outlier.setHosts(c.endpoints.map((e) => e.key));
  }

  /**
   * The endpoint for the next try: healthy, not ejected, chosen by the cluster's policy.
   * `hash`: the request's hash from the route's hash_policy (RING_HASH and MAGLEV clusters).
   */
  pick(c: CompiledCluster, avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined {
    this.configure(c);
    const list = this.outlier?.ejectedCount ? this.usable(c.healthyEndpoints, this.outlier) : c.healthyEndpoints;
    return this.balancerFor(list, c).pick(avoid, hash);
  }

  private usable(from: readonly EndpointAddress[], od: OutlierDetector): readonly EndpointAddress[] {
    const a = this.available;
    if (a && a.from === from && a.epoch === od.epoch) return a.list;
    const list = from.filter((e) => !od.isEjected(e.key));
    this.available = { from, epoch: od.epoch, list };
    return list;
  }

  private balancerFor(list: readonly EndpointAddress[], c: CompiledCluster): Balancer {
    const policy = c.lbPolicy;
    const all = c.endpoints;
    if (this.balancer && (list === this.balancerList || sameEndpoints(list, this.balancerList)) && policy === this.balancerPolicy &&
      c.lbConfig?.key === this.balancerConfigKey && (all === this.balancerAll || sameEndpoints(all, this.balancerAll))) {
      this.balancerList = list;
      this.balancerAll = all;
      return this.balancer;
    }
    this.balancer = createBalancer(policy, list, this.activeOf, { all, ...(c.lbConfig ? { config: c.lbConfig } : {}) });
    this.balancerList = list;
    this.balancerAll = all;
    this.balancerPolicy = policy;
    this.balancerConfigKey = c.lbConfig?.key;
    return this.balancer;
  }

  /** The agent's pool name for an endpoint (cached; the agent keys sockets by it). */
  private poolName(ep: EndpointAddress): string {
    let n = this.poolNames.get(ep.key);
    if (n === undefined) {
      n = this.agent.getName({ host: ep.host, port: ep.port, localAddress: (this.agent as http.Agent & { options: { localAddress?: string } }).options.localAddress });
      this.poolNames.set(ep.key, n);
    }
    return n;
  }

  /**
   * Circuit breaking for one try. Returns true when the try may go ahead; then `waiting` says
   * whether it counts as pending until its connection is ready (release with endWait()).
   */
  admitTry(c: CompiledCluster, ep: EndpointAddress): { ok: boolean; waiting: boolean } {
    const cb = c.circuitBreakers;
    if (!cb) return ADMIT_FREE;
    const name = this.poolName(ep);
    if ((this.agent.freeSockets[name]?.length ?? 0) > 0 || this.h1.hasIdle(ep.key)) return ADMIT_FREE;
    if (this.pending >= cb.maxPendingRequests) {
      this.overflow.rqPendingOverflow++;
      return REFUSE;
    }
    if (cb.maxConnections !== Infinity && this.totalConnections() >= cb.maxConnections) {
      this.overflow.cxOverflow++;
      this.evictIdleElsewhere(name);
    }
    this.pending++;
    return ADMIT_WAITING;
  }

  endWait(): void {
    this.pending--;
  }

  /** Whether one more request may start (max_requests). */
  admitRequest(c: CompiledCluster): boolean {
    this.configure(c);
    const cb = c.circuitBreakers;
    if (!cb || this.inflight < cb.maxRequests) return true;
    this.overflow.rqPendingOverflow++;
    return false;
  }

  /** Whether one more retry may be scheduled (max_retries); counts it when so. */
  admitRetry(c: CompiledCluster): boolean {
    const cb = c.circuitBreakers;
    if (cb && this.retriesActive >= cb.maxRetries) {
      this.overflow.rqRetryOverflow++;
      return false;
    }
    this.retriesActive++;
    return true;
  }

  private totalConnections(): number {
    let n = 0;
    for (const list of Object.values(this.agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n + this.h1.plainTotal();
  }

  /** An idle connection to another host gives its slot up, so the waiting try is not stuck behind it. */
  private evictIdleElsewhere(name: string): void {
    for (const [k, list] of Object.entries(this.agent.freeSockets)) {
      if (k !== name && list && list.length > 0) {
        list[0].destroy();
        return;
      }
    }
  }

  begin(): void {
    this.inflight++;
    this.rqTotal++;
  }

  end(): void {
    this.inflight--;
    if (this.removed && this.inflight === 0) {
      this.agent.destroy();
      this.destroyTlsAgents();
      this.h2.close();
      this.h1.destroy();
    }
  }

  /** The cluster left the configuration: stop timers; the pool closes once idle. */
  retire(): void {
    this.removed = true;
    this.outlier?.stop();
    if (this.inflight === 0) {
      this.agent.destroy();
      this.destroyTlsAgents();
      this.h2.close();
      this.h1.destroy();
    }
  }
}

/** An agent whose connections should not be reused: close idle ones, let busy ones finish. */
function retireAgent(agent: https.Agent): void {
  (agent as https.Agent & { keepAlive: boolean }).keepAlive = false;
  for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
}

const ADMIT_FREE = { ok: true, waiting: false } as const;
const ADMIT_WAITING = { ok: true, waiting: true } as const;
const REFUSE = { ok: false, waiting: false } as const;

export class ClusterRuntimes {
  private readonly byName = new Map<string, ClusterRuntime>();
  private readonly bindAddress: string | undefined;

  /** bindAddress: the local address upstream connections leave from (the pod IP). */
  constructor(bindAddress?: string) {
    this.bindAddress = bindAddress;
  }

  get(name: string): ClusterRuntime {
    let rt = this.byName.get(name);
    if (!rt) this.byName.set(name, (rt = new ClusterRuntime(name, this.bindAddress)));
    return rt;
  }

  peek(name: string): ClusterRuntime | undefined {
    return this.byName.get(name);
  }

  /**
   * Drops runtimes of clusters the snapshot no longer has (pools close when their last request
   * ends) and sets the others up for their new compiled cluster, so outlier timers follow the
   * configuration even while no request arrives.
   */
  sync(snap: Snapshot): void {
    for (const [name, rt] of this.byName) {
      const c = snap.clusters.get(name);
      if (c) {
        rt.configure(c);
        continue;
      }
      this.byName.delete(name);
      rt.retire();
    }
  }

  closeAll(): void {
    for (const rt of this.byName.values()) {
      rt.outlier?.stop();
      rt.agent.destroy();
      rt.destroyTlsAgentsNow();
      rt.h2.close();
      rt.h1.destroy();
    }
    this.byName.clear();
  }
}
