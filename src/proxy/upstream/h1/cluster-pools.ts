// A cluster's lean HTTP/1.1 pools: one for plaintext, one per client TLS options object (a new
// object, after a certificate rotation or a settings change, retires the previous pool: idle
// connections close now, busy ones when their response ends). Limits follow the cluster.
import type tls from "node:tls";
import { H1Pool } from "./pool.ts";

export class ClusterPools {
  readonly plain: H1Pool;
  private readonly tlsPools = new Map<string, { options: tls.ConnectionOptions; pool: H1Pool }>();
  private readonly localAddress: string | undefined;
  private maxSockets = Infinity;
  private idleTimeoutMs: number | undefined;

  constructor(localAddress?: string) {
    this.localAddress = localAddress;
    this.plain = new H1Pool(localAddress ? { localAddress } : {});
  }

  /** The pool for TLS connections made with `options`; `key` names the TLS setting (its cache key). */
  forTls(options: tls.ConnectionOptions, key: string): H1Pool {
    const cur = this.tlsPools.get(key);
    if (cur?.options === options) return cur.pool;
    cur?.pool.retire();
    const pool = new H1Pool({ tls: options, ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
    pool.maxSockets = this.maxSockets;
    pool.idleTimeoutMs = this.idleTimeoutMs;
    this.tlsPools.set(key, { options, pool });
    return pool;
  }

  /** Limits from the cluster: max_connections (per pool, as the agents had) and the idle timeout. */
  configure(maxSockets: number, idleTimeoutMs: number | undefined): void {
    this.maxSockets = maxSockets;
    this.idleTimeoutMs = idleTimeoutMs;
    for (const p of this.pools()) {
      p.maxSockets = maxSockets;
      p.idleTimeoutMs = idleTimeoutMs;
    }
  }

  /** Open connections (busy and idle) to one endpoint, by its "host:port" key. */
  connections(name: string): number {
    let n = 0;
    for (const p of this.pools()) n += p.connections(name);
    return n;
  }

  /** Plaintext connections in all (the circuit breaker counts these against max_connections). */
  plainTotal(): number {
    return this.plain.size;
  }

  /** Whether an idle plaintext connection to the endpoint is ready for the next request. */
  hasIdle(name: string): boolean {
    return this.plain.idleCount(name) > 0;
  }

  /** The cluster left the configuration and its last request ended: close everything. */
  destroy(): void {
    for (const p of this.pools()) p.destroyAll();
    this.tlsPools.clear();
  }

  private *pools(): Iterable<H1Pool> {
    yield this.plain;
    for (const t of this.tlsPools.values()) yield t.pool;
  }
}
