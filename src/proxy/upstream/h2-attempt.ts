// One try of a request over HTTP/2 (gRPC upstreams), with the same contract as Attempt: one
// outcome, the response head or a failure classified as connect failure or reset. The
// response stream is handed over looking like an IncomingMessage (statusCode, headers); its
// "trailers" event carries grpc-status and grpc-message.
import http2 from "node:http2";
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { EndpointAddress } from "../state/types.ts";
import type { AttemptHandlers } from "./attempt.ts";
import type { H2Pool } from "./h2-pool.ts";

export interface H2AttemptRequest {
  endpoint: EndpointAddress;
  method: string;
  path: string;
  /** Upstream headers in HTTP/1 form; "host" becomes ":authority". */
  headers: OutgoingHttpHeaders;
  pool: H2Pool;
  /** TLS towards the endpoint; plaintext (h2c) when absent. */
  tls?: import("node:tls").ConnectionOptions;
  connectTimeoutMs: number;
  body: Buffer | Readable | undefined;
  onWaitEnd?: () => void;
}

// Headers HTTP/2 forbids (RFC 9113 8.2.2); "te" may only say "trailers".
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"]);

function h2RequestHeaders(r: H2AttemptRequest): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    ":method": r.method,
    ":path": r.path,
    ":scheme": "http",
    ":authority": String(r.headers.host ?? `${r.endpoint.host}:${r.endpoint.port}`),
  };
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !CONNECTION_SPECIFIC.has(k)) out[k] = v;
  const ct = r.headers["content-type"];
  if (typeof ct === "string" && ct.startsWith("application/grpc")) out.te = "trailers";
  return out;
}

export class H2Attempt {
  readonly endpoint: EndpointAddress;
  private stream: http2.ClientHttp2Stream | undefined;
  private settled = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly body: Readable | undefined;
  private waitEnd: (() => void) | undefined;

  constructor(r: H2AttemptRequest, h: AttemptHandlers) {
    this.endpoint = r.endpoint;
    this.waitEnd = r.onWaitEnd;
    const session = r.pool.session(r.endpoint, r.tls);
    let connected = !session.connecting;
    const fail = (detail: string): void => {
      if (this.settled) return;
      this.settled = true;
      clearTimeout(this.connectTimer);
      this.endWait();
      if (this.body && this.stream) this.body.unpipe(this.stream);
      this.stream?.destroy();
      h.onFailure(connected ? "reset" : "connect-failure", detail);
    };
    if (connected) this.endWait();
    else {
      this.connectTimer = setTimeout(() => {
        session.destroy();
        fail("ETIMEDOUT");
      }, r.connectTimeoutMs);
      session.once("connect", () => {
        connected = true;
        clearTimeout(this.connectTimer);
        this.endWait();
      });
    }
    const stream = session.request(h2RequestHeaders(r), { endStream: r.body === undefined });
    this.stream = stream;
    // A session that fails (refused, reset) destroys its streams with the same error.
    stream.once("close", () => {
      if (!this.settled) fail(stream.rstCode ? `RST_STREAM ${stream.rstCode}` : "stream closed");
    });
    stream.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    stream.once("response", (headers: http2.IncomingHttpHeaders) => {
      if (this.settled) {
        stream.resume();
        return;
      }
      this.settled = true;
      clearTimeout(this.connectTimer);
      const res = Object.assign(stream, { statusCode: Number(headers[":status"] ?? 502), headers });
      h.onResponse(res as unknown as IncomingMessage);
    });
    if (Buffer.isBuffer(r.body)) stream.end(r.body);
    else if (r.body) {
      this.body = r.body;
      r.body.pipe(stream);
    }
  }

  /** Stops this try; no handler is called afterwards. */
  abort(): void {
    this.settled = true;
    this.endWait();
    clearTimeout(this.connectTimer);
    if (this.body && this.stream) this.body.unpipe(this.stream);
    this.stream?.close(http2.constants.NGHTTP2_CANCEL);
  }

  private endWait(): void {
    const f = this.waitEnd;
    this.waitEnd = undefined;
    f?.();
  }
}
