// One keep-alive HTTP/1.1 connection to an upstream: the socket, its response parser, and the
// one request using it at a time (its "user"). Socket listeners are installed once for the
// connection's life, not per request. The pool decides reuse; see pool.ts.
import type net from "node:net";
import type { IncomingHttpHeaders } from "node:http";
import { ResponseParser, type ParserEvents, type ResponseHead } from "./response-parser.ts";

/** What a request using the connection hears from it. */
export interface ConnectionUser {
  /** A new connection is being opened for this request (connect timer, abort by destroy). */
  onConnecting(conn: H1Connection): void;
  /** The connection is ready: connected (and TLS handshake done), or handed out by the pool. */
  onReady(conn: H1Connection): void;
  /** The connection failed or closed while this request used it. */
  onConnectionError(err: NodeJS.ErrnoException, connected: boolean): void;
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onTrailers(trailers: IncomingHttpHeaders, raw: string[]): void;
  onComplete(): void;
}

/** What the connection tells its pool. */
export interface ConnectionOwner {
  onConnectionClosed(conn: H1Connection): void;
  onTlsSession?(conn: H1Connection, session: Buffer): void;
  onTlsFailure?(conn: H1Connection): void;
}

const KEEP_ALIVE_HINT = /(?:^|,)\s*timeout=(\d+)/;

export class H1Connection implements ParserEvents {
  readonly socket: net.Socket;
  /** The pool's key for the endpoint ("host:port"). */
  readonly name: string;
  readonly tls: boolean;
  connected = false;
  /** Requests sent on this connection. */
  requests = 0;
  /** False once the connection must not carry another request. */
  reusable = true;
  /** The upstream's "Keep-Alive: timeout=N" hint, in ms, minus a second of margin (as Node's agent). */
  serverIdleMs: number | undefined;
  user: ConnectionUser | undefined;
  closed = false;
  private readonly parser: ResponseParser;
  private readonly owner: ConnectionOwner;
  private error: NodeJS.ErrnoException | undefined;
  private paused = false;

  constructor(owner: ConnectionOwner, name: string, socket: net.Socket, tls: boolean, user: ConnectionUser) {
    this.owner = owner;
    this.name = name;
    this.socket = socket;
    this.tls = tls;
    this.user = user;
    this.parser = new ResponseParser(this);
    socket.once(tls ? "secureConnect" : "connect", () => this.onConnected());
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("end", () => this.onEnd());
    socket.on("error", (e: NodeJS.ErrnoException) => this.onError(e));
    socket.on("close", () => this.onClose());
    socket.on("timeout", () => this.destroy()); // idle timeout (set only while in the pool)
    if (tls) socket.on("session", (s: Buffer) => owner.onTlsSession?.(this, s));
  }

  /** Sends one request head (and a small body) in a single write. `noBody`: a HEAD request. */
  send(head: string, body: Buffer | undefined, noBody: boolean): void {
    this.requests++;
    this.parser.expect(noBody);
    if (body === undefined || body.length === 0) {
      this.socket.write(head, "latin1");
    } else if (body.length <= 64 * 1024) {
      const out = Buffer.allocUnsafe(head.length + body.length);
      out.write(head, 0, "latin1");
      body.copy(out, head.length);
      this.socket.write(out);
    } else {
      this.socket.cork();
      this.socket.write(head, "latin1");
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  /** Writes raw body bytes; false when the socket's buffer is full (wait for "drain"). */
  write(data: Buffer | string): boolean {
    return this.socket.write(data as Buffer);
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** Closes the connection; the user (if any) hears `err`, or a hang-up. */
  destroy(err?: NodeJS.ErrnoException): void {
    this.reusable = false;
    if (this.closed) return;
    if (err) this.error ??= err;
    this.socket.destroy();
  }

  /** Whether a response is still being read. */
  get busy(): boolean {
    return this.parser.busy;
  }

  // ParserEvents: forwarded to the user.
  onHead(head: ResponseHead): void {
    if (!head.keepAlive) this.reusable = false;
    const ka = head.headers["keep-alive"];
    if (ka !== undefined) {
      const m = KEEP_ALIVE_HINT.exec(String(ka));
      if (m) {
        this.serverIdleMs = Number(m[1]) * 1000 - 1000;
        if (this.serverIdleMs <= 0) this.reusable = false;
      }
    }
    this.user?.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.user?.onBody(chunk);
  }

  onTrailers(trailers: IncomingHttpHeaders, raw: string[]): void {
    this.user?.onTrailers(trailers, raw);
  }

  onComplete(): void {
    this.user?.onComplete();
  }

  private onConnected(): void {
    this.connected = true;
    this.user?.onReady(this);
  }

  private onData(d: Buffer): void {
    try {
      this.parser.execute(d);
    } catch (e) {
      this.destroy(protocolFailure(e));
    }
  }

  private onEnd(): void {
    this.reusable = false;
    try {
      this.parser.finish();
    } catch (e) {
      this.destroy(protocolFailure(e));
      return;
    }
    this.socket.destroy();
  }

  private onError(e: NodeJS.ErrnoException): void {
    this.reusable = false;
    this.error ??= e;
    if (this.tls && !this.connected) this.owner.onTlsFailure?.(this);
    this.notifyFailure();
  }

  private onClose(): void {
    this.closed = true;
    this.reusable = false;
    this.notifyFailure();
    this.owner.onConnectionClosed(this);
  }

  private notifyFailure(): void {
    const u = this.user;
    if (!u) return;
    this.user = undefined;
    u.onConnectionError(this.error ?? hangUp(), this.connected);
  }
}

function hangUp(): NodeJS.ErrnoException {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}

function protocolFailure(e: unknown): NodeJS.ErrnoException {
  const err = e instanceof Error ? e : new Error(String(e));
  return Object.assign(err, { code: (err as NodeJS.ErrnoException).code ?? "MIZZEN_HTTP1_PROTOCOL" });
}
