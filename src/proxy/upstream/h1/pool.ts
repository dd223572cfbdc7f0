// A keep-alive pool of HTTP/1.1 connections for one cluster and one TLS setting (or plaintext),
// with the limits the http.Agent pools had: at most maxSockets connections in all (the
// cluster's max_connections), idle ones reused last-in first-out per endpoint and closed after
// the idle timeout (or the upstream's Keep-Alive hint), requests queued in order when the limit
// is reached. TLS sessions are kept per endpoint for resumption.
import net from "node:net";
import tls from "node:tls";
import type { EndpointAddress } from "../../state/types.ts";
import { H1Connection, type ConnectionOwner, type ConnectionUser } from "./connection.ts";

interface Waiter {
  ep: EndpointAddress;
  user: ConnectionUser;
}

export interface H1PoolOptions {
  /** TLS towards the endpoints (the same frozen options object for the pool's life); plaintext when absent. */
  tls?: tls.ConnectionOptions;
  /** Local address connections leave from (the pod IP). */
  localAddress?: string;
}

export class H1Pool implements ConnectionOwner {
  maxSockets = Infinity;
  /** Idle connections close after this long; undefined: only the upstream's hint applies. */
  idleTimeoutMs: number | undefined;
  private readonly opts: H1PoolOptions;
  private readonly free = new Map<string, H1Connection[]>();
  private readonly all = new Set<H1Connection>();
  private readonly waiting: Waiter[] = [];
  private readonly sessions = new Map<string, Buffer>();
  /** No more reuse: idle connections are gone, busy ones close when their response ends. */
  private retired = false;

  constructor(opts: H1PoolOptions = {}) {
    this.opts = opts;
  }

  get size(): number {
    return this.all.size;
  }

  /** Connections (busy and idle) to one endpoint. */
  connections(name: string): number {
    let n = 0;
    for (const c of this.all) if (c.name === name) n++;
    return n;
  }

  idleCount(name: string): number {
    return this.free.get(name)?.length ?? 0;
  }

  /**
   * A connection for `user`: an idle one at once (onReady), a new one (onConnecting, then
   * onReady or onConnectionError), or later when the pool is full.
   */
  acquire(ep: EndpointAddress, user: ConnectionUser): void {
    const list = this.free.get(ep.key);
    if (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      c.socket.setTimeout(0);
      c.user = user;
      user.onReady(c);
      return;
    }
    if (this.all.size < this.maxSockets) {
      this.open(ep, user);
      return;
    }
    this.waiting.push({ ep, user });
    this.evictIdle();
  }

  /** The user gave up before it got a connection. */
  cancel(user: ConnectionUser): void {
    const i = this.waiting.findIndex((w) => w.user === user);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** The user is done with the connection (response read, request written). */
  release(c: H1Connection): void {
    c.user = undefined;
    if (this.retired || !c.reusable || c.closed || c.busy) {
      c.destroy();
      return;
    }
    const i = this.waiting.findIndex((w) => w.ep.key === c.name);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      c.user = w.user;
      w.user.onReady(c);
      return;
    }
    // A request for another endpoint waits for a slot: this connection gives its own up.
    if (this.waiting.length > 0) {
      c.destroy();
      return;
    }
    let list = this.free.get(c.name);
    if (!list) this.free.set(c.name, (list = []));
    list.push(c);
    const idle = minDefined(this.idleTimeoutMs, c.serverIdleMs);
    if (idle !== undefined) c.socket.setTimeout(idle);
  }

  /** Stops reusing connections: idle ones close now, busy ones when released. */
  retire(): void {
    this.retired = true;
    for (const list of this.free.values()) for (const c of [...list]) c.destroy();
  }

  /** Closes every connection now (busy ones fail their request). */
  destroyAll(): void {
    this.retired = true;
    for (const c of [...this.all]) c.destroy();
  }

  onConnectionClosed(c: H1Connection): void {
    this.all.delete(c);
    const list = this.free.get(c.name);
    if (list) {
      const i = list.indexOf(c);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.free.delete(c.name);
    }
    if (this.waiting.length > 0 && this.all.size < this.maxSockets) {
      const w = this.waiting.shift()!;
      this.open(w.ep, w.user);
    }
  }

  onTlsSession(c: H1Connection, session: Buffer): void {
    this.sessions.set(c.name, session);
  }

  onTlsFailure(c: H1Connection): void {
    this.sessions.delete(c.name);
  }

  private open(ep: EndpointAddress, user: ConnectionUser): void {
    const base = { host: ep.host, port: ep.port, noDelay: true, ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}) };
    let socket: net.Socket;
    const t = this.opts.tls;
    if (t) {
      // As https.Agent: SNI is the host name unless the options name one (never an IP address).
      const servername = t.servername ?? (net.isIP(ep.host) === 0 ? ep.host : undefined);
      const session = this.sessions.get(ep.key);
      socket = tls.connect({ ...t, ...base, ...(servername ? { servername } : {}), ...(session ? { session } : {}) });
    } else {
      socket = net.connect(base);
    }
    const c = new H1Connection(this, ep.key, socket, t !== undefined, user);
    this.all.add(c);
    user.onConnecting(c);
  }

  /** When full, an idle connection to another endpoint closes so a waiting request gets a slot. */
  private evictIdle(): void {
    for (const list of this.free.values()) {
      if (list.length > 0) {
        list[0].destroy();
        return;
      }
    }
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
