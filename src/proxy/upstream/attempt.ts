// One try of a request against one endpoint. Reports exactly one outcome: the response head,
// or a failure classified as Envoy does (connect failure before the socket connected, reset
// after). The caller owns retries and timeouts; abort() silences all later events.
import http from "node:http";
import https from "node:https";
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { EndpointAddress } from "../state/types.ts";

export type AttemptFailure = "connect-failure" | "reset";

export interface AttemptHandlers {
  onResponse(res: IncomingMessage): void;
  onFailure(kind: AttemptFailure, detail: string): void;
}

export interface AttemptRequest {
  endpoint: EndpointAddress;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  agent: http.Agent;
  connectTimeoutMs: number;
  /** Buffered body (replayable), a stream (single use), or undefined for none. */
  body: Buffer | Readable | undefined;
  /** Close a connection after this many requests (0 = never). */
  maxRequestsPerConnection?: number;
  /** Called once when the try stops waiting for a connection (ready, failed or aborted). */
  onWaitEnd?: () => void;
  /** TLS towards the endpoint: the pool made for its TLS options (see ClusterRuntime.tlsAgentFor); plaintext when absent. */
  tlsAgent?: https.Agent;
}

/**
 * The details of a failed try, for the access log: `TLS_error:<code>:<message>` when the TLS
 * handshake or the peer's identity failed, `protocol_error:<reason>` for a response the lean
 * client could not frame, else the error's code. Shared by both HTTP/1.1 clients.
 */
export function failureDetail(err: NodeJS.ErrnoException, tls: boolean, connected: boolean): string {
  if (err.code === "ERR_MIZZEN_SAN_MISMATCH" || (tls && !connected)) return `TLS_error:${err.code ?? ""}:${err.message}`;
  if (err.code === "MIZZEN_HTTP1_PROTOCOL") return `protocol_error:${err.message}`;
  return err.code ?? err.message;
}

/** Requests each pooled connection has carried (for max_requests_per_connection). */
const requestsOnSocket = new WeakMap<object, number>();

export class Attempt {
  readonly endpoint: EndpointAddress;
  private readonly req: http.ClientRequest;
  private settled = false;
  private connected = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly stream: Readable | undefined;
  private waitEnd: (() => void) | undefined;

  constructor(r: AttemptRequest, h: AttemptHandlers) {
    this.endpoint = r.endpoint;
    const target = { host: r.endpoint.host, port: r.endpoint.port, method: r.method, path: r.path, headers: r.headers, setHost: false };
    const req = r.tlsAgent ? https.request({ ...target, agent: r.tlsAgent }) : http.request({ ...target, agent: r.agent });
    this.req = req;
    this.waitEnd = r.onWaitEnd;
    req.on("socket", (s) => {
      const max = r.maxRequestsPerConnection ?? 0;
      if (max > 0) {
        const n = (requestsOnSocket.get(s) ?? 0) + 1;
        requestsOnSocket.set(s, n);
        // The connection is closed instead of going back to the pool after this response.
        if (n >= max) req.shouldKeepAlive = false;
      }
      if (!s.connecting) {
        this.connected = true; // reused keep-alive connection
        this.endWait();
        return;
      }
      this.connectTimer = setTimeout(() => s.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })), r.connectTimeoutMs);
      // With TLS the connection is ready after the handshake: a failed handshake (bad
      // certificate, wrong identity) is a connection failure, as Envoy counts it.
      s.once(r.tlsAgent ? "secureConnect" : "connect", () => {
        this.connected = true;
        clearTimeout(this.connectTimer);
        this.endWait();
      });
      s.once("close", () => clearTimeout(this.connectTimer));
    });
    req.on("response", (res) => {
      if (this.settled) {
        res.resume();
        return;
      }
      this.settled = true;
      h.onResponse(res);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (this.settled) return;
      this.settled = true;
      clearTimeout(this.connectTimer);
      this.unpipe();
      this.endWait();
      h.onFailure(this.connected ? "reset" : "connect-failure", failureDetail(err, r.tlsAgent !== undefined, this.connected));
    });
    if (r.body === undefined) req.end();
    else if (Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      this.stream = r.body;
      r.body.pipe(req);
    }
  }

  /** Stops this try; no handler is called afterwards. */
  abort(): void {
    this.settled = true;
    this.endWait();
    clearTimeout(this.connectTimer);
    this.unpipe();
    this.req.destroy();
  }

  private endWait(): void {
    const f = this.waitEnd;
    this.waitEnd = undefined;
    f?.();
  }

  private unpipe(): void {
    if (this.stream) this.stream.unpipe(this.req);
  }
}
