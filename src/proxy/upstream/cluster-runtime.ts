// Per-cluster runtime objects that outlive snapshots: the keep-alive connection pool (an
// http.Agent), the round-robin cursor, and per-host counters. Kept by cluster name and reused
// while new snapshots keep the cluster; a removed cluster's pool is closed once idle.
import http from "node:http";
import type { Snapshot } from "../state/types.ts";

export class HostStats {
  rqTotal = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTimeout = 0;
  rqActive = 0;
  cxConnectFail = 0;
}

export class ClusterRuntime {
  readonly name: string;
  readonly agent: http.Agent;
  /** Round-robin cursor. */
  cursor = 0;
  inflight = 0;
  removed = false;
  rqTotal = 0;
  rqRetry = 0;
  readonly hosts = new Map<string, HostStats>();

  constructor(name: string, bindAddress?: string) {
    this.name = name;
    // LIFO keeps the hottest sockets busy and lets cold ones expire; the agent honours the
    // upstream's "Keep-Alive: timeout=N" hint so we do not reuse a socket it is closing.
    // Connections leave from the pod's own address (Envoy's upstream_bind_config), so the
    // peer sees which workload is calling.
    this.agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo", ...(bindAddress ? { localAddress: bindAddress } : {}) });
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
    return n;
  }

  begin(): void {
    this.inflight++;
    this.rqTotal++;
  }

  end(): void {
    this.inflight--;
    if (this.removed && this.inflight === 0) this.agent.destroy();
  }
}

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

  /** Drops runtimes of clusters the snapshot no longer has; pools close when their last request ends. */
  sync(snap: Snapshot): void {
    for (const [name, rt] of this.byName) {
      if (snap.clusters.has(name)) continue;
      this.byName.delete(name);
      rt.removed = true;
      if (rt.inflight === 0) rt.agent.destroy();
    }
  }

  closeAll(): void {
    for (const rt of this.byName.values()) rt.agent.destroy();
    this.byName.clear();
  }
}
