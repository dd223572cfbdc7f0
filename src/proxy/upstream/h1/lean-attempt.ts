// One try over the lean HTTP/1.1 client, with Attempt's contract: exactly one outcome, the
// response head or a failure classified as Envoy does (connect failure before the connection
// is ready, i.e. connected and TLS handshake done; reset after). abort() silences all later
// events. A buffered body goes out in the same write as the head; a stream is written with
// backpressure, chunked when its length is unknown.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { EndpointAddress } from "../../state/types.ts";
import { failureDetail, type AttemptFailure, type AttemptHandlers } from "../attempt.ts";
import type { ConnectionUser, H1Connection } from "./connection.ts";
import type { H1Pool } from "./pool.ts";
import type { ResponseHead } from "./response-parser.ts";
import { LeanResponse } from "./lean-response.ts";
import { requestHead, RequestHeadError } from "./request-head.ts";

export interface LeanAttemptRequest {
  endpoint: EndpointAddress;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** The cluster's pool for this endpoint's transport (plaintext or one TLS setting). */
  pool: H1Pool;
  tls: boolean;
  connectTimeoutMs: number;
  body: Buffer | Readable | undefined;
  /** Close a connection after this many requests (0 = never). */
  maxRequestsPerConnection?: number;
  onWaitEnd?: () => void;
}

const CRLF = "\r\n";
const LAST_CHUNK = "0\r\n\r\n";

export class LeanAttempt implements ConnectionUser {
  readonly endpoint: EndpointAddress;
  private readonly r: LeanAttemptRequest;
  private readonly h: AttemptHandlers;
  private conn: H1Connection | undefined;
  private res: LeanResponse | undefined;
  /** A handler was called, or the try was aborted. */
  private settled = false;
  private requestDone = false;
  private responseDone = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private waitEnd: (() => void) | undefined;
  private stream: Readable | undefined;
  private chunked = false;
  private onStreamData: ((c: Buffer) => void) | undefined;
  private onStreamEnd: (() => void) | undefined;
  private onDrain: (() => void) | undefined;

  constructor(r: LeanAttemptRequest, h: AttemptHandlers) {
    this.endpoint = r.endpoint;
    this.r = r;
    this.h = h;
    this.waitEnd = r.onWaitEnd;
    if (r.body !== undefined && !Buffer.isBuffer(r.body)) {
      // Hold the stream until a connection is ready; it is resumed in writeStream.
      this.stream = r.body;
      r.body.pause();
    }
    r.pool.acquire(r.endpoint, this);
  }

  /** Stops this try; no handler is called afterwards. */
  abort(): void {
    this.settled = true;
    this.endWait();
    clearTimeout(this.connectTimer);
    this.stopStream();
    this.r.pool.cancel(this);
    const c = this.conn;
    this.conn = undefined;
    if (c && c.user === this) {
      c.user = undefined;
      c.destroy();
    }
    if (this.res && !this.res.complete) this.res.destroy();
  }

  onConnecting(conn: H1Connection): void {
    this.conn = conn;
    this.connectTimer = setTimeout(() => conn.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })), this.r.connectTimeoutMs);
  }

  onReady(conn: H1Connection): void {
    this.conn = conn;
    clearTimeout(this.connectTimer);
    this.endWait();
    const r = this.r;
    const max = r.maxRequestsPerConnection ?? 0;
    const close = max > 0 && conn.requests + 1 >= max;
    if (close) conn.reusable = false;
    const body = r.body;
    let head: string;
    try {
      this.chunked = this.stream !== undefined && r.headers["content-length"] === undefined;
      head = requestHead({
        method: r.method, path: r.path, headers: r.headers, close,
        framing: body === undefined ? "none" : Buffer.isBuffer(body) ? "length" : this.chunked ? "chunked" : "length",
        bodyLength: Buffer.isBuffer(body) ? body.length : 0,
      });
    } catch (e) {
      if (!(e instanceof RequestHeadError)) throw e;
      // Nothing was written: the connection is still good for the next request.
      this.conn = undefined;
      this.r.pool.release(conn);
      // Later, as every other outcome: the caller has not kept this try yet.
      queueMicrotask(() => this.fail("reset", `invalid_request:${e.message}`));
      return;
    }
    conn.send(head, Buffer.isBuffer(body) ? body : undefined, r.method === "HEAD");
    if (this.stream) this.writeStream(conn, this.stream);
    else this.requestDone = true;
  }

  onConnectionError(err: NodeJS.ErrnoException, connected: boolean): void {
    clearTimeout(this.connectTimer);
    this.conn = undefined;
    this.stopStream();
    this.endWait();
    if (this.res) {
      // Cut in the middle of the body: the reader hears it as an error.
      if (!this.res.complete) this.res.destroy(err);
      return;
    }
    this.fail(connected ? "reset" : "connect-failure", failureDetail(err, this.r.tls, connected));
  }

  onHead(head: ResponseHead): void {
    const conn = this.conn;
    if (this.settled || !conn) return;
    this.settled = true;
    const res = new LeanResponse(head, conn.socket, {
      resume: () => {
        if (this.conn === conn) conn.resume();
      },
      abandon: () => {
        if (this.conn !== conn) return;
        this.conn = undefined;
        this.stopStream();
        conn.user = undefined;
        conn.destroy();
      },
    });
    this.res = res;
    this.h.onResponse(res as unknown as IncomingMessage);
  }

  onBody(chunk: Buffer): void {
    const res = this.res;
    if (res && !res.push(chunk)) this.conn?.pause();
  }

  onTrailers(trailers: IncomingHttpHeaders, raw: string[]): void {
    const res = this.res;
    if (!res) return;
    res.trailers = trailers;
    res.rawTrailers = raw;
    res.emit("trailers", trailers);
  }

  onComplete(): void {
    this.responseDone = true;
    const res = this.res;
    if (res) {
      res.complete = true;
      res.push(null);
    }
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.resume();
    if (!this.requestDone) {
      // The answer came before the whole request body: do not wait for it, close instead.
      this.stopStream();
      conn.reusable = false;
    }
    this.r.pool.release(conn);
  }

  private writeStream(conn: H1Connection, s: Readable): void {
    if (s.readableEnded) {
      this.endStream(conn);
      return;
    }
    this.onStreamData = (c: Buffer) => {
      if (c.length === 0 || this.conn !== conn) return;
      const ok = this.chunked ? writeChunk(conn, c) : conn.write(c);
      if (!ok) {
        s.pause();
        conn.socket.once("drain", (this.onDrain = () => s.resume()));
      }
    };
    this.onStreamEnd = () => {
      if (this.conn === conn) this.endStream(conn);
    };
    s.on("data", this.onStreamData);
    s.once("end", this.onStreamEnd);
    s.resume();
  }

  private endStream(conn: H1Connection): void {
    this.requestDone = true;
    this.stopStream();
    if (this.chunked) conn.write(LAST_CHUNK);
  }

  private stopStream(): void {
    const s = this.stream;
    if (!s) return;
    if (this.onStreamData) s.off("data", this.onStreamData);
    if (this.onStreamEnd) s.off("end", this.onStreamEnd);
    if (this.onDrain && this.conn) this.conn.socket.off("drain", this.onDrain);
    this.onStreamData = undefined;
    this.onStreamEnd = undefined;
    this.onDrain = undefined;
  }

  private fail(kind: AttemptFailure, detail: string): void {
    if (this.settled) return;
    this.settled = true;
    this.h.onFailure(kind, detail);
  }

  private endWait(): void {
    const f = this.waitEnd;
    this.waitEnd = undefined;
    f?.();
  }
}

function writeChunk(conn: H1Connection, c: Buffer): boolean {
  conn.socket.cork();
  conn.write(c.length.toString(16) + CRLF);
  conn.write(c);
  const ok = conn.write(CRLF);
  conn.socket.uncork();
  return ok;
}
