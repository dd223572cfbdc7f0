// Finds the ends of HTTP/1.1 responses in the bytes of one keep-alive connection, for a load
// client that sends pre-encoded requests on raw sockets (node:http's client would cost more CPU
// per request than the proxies under test at a low rate). Handles Content-Length and chunked
// bodies; a response framed by connection close is not supported (the caller counts an error).

const CRLF_CRLF = Buffer.from("\r\n\r\n");
const MAX_HEAD = 64 * 1024;

export class Http1ResponseError extends Error {}

type State =
  | { kind: "head" }
  | { kind: "body"; left: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; left: number }
  | { kind: "chunk-crlf"; left: number }
  | { kind: "trailers" };

export class Http1Responses {
  #state: State = { kind: "head" };
  #pending: Buffer = Buffer.alloc(0);
  #status = 0;
  #close = false;
  readonly #onResponse: (status: number, close: boolean) => void;

  /** onResponse: status, and whether the server said `Connection: close` (the connection must not carry another request). */
  constructor(onResponse: (status: number, close: boolean) => void) {
    this.#onResponse = onResponse;
  }

  /** Feeds bytes read from the socket; calls onResponse once per complete response. Throws Http1ResponseError on bytes that are not HTTP/1.1. */
  push(chunk: Buffer): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    let at = 0;
    while (at < buf.length) {
      const s = this.#state;
      if (s.kind === "head") {
        const end = buf.indexOf(CRLF_CRLF, at);
        if (end < 0) break;
        this.#startBody(buf.toString("latin1", at, end));
        at = end + 4;
      } else if (s.kind === "body" || s.kind === "chunk-data") {
        const take = Math.min(s.left, buf.length - at);
        at += take;
        s.left -= take;
        if (s.left > 0) continue;
        if (s.kind === "body") this.#finish();
        else this.#state = { kind: "chunk-crlf", left: 2 };
      } else if (s.kind === "chunk-crlf") {
        const take = Math.min(s.left, buf.length - at);
        at += take;
        s.left -= take;
        if (s.left === 0) this.#state = { kind: "chunk-size" };
      } else {
        const eol = buf.indexOf("\r\n", at, "latin1");
        if (eol < 0) break;
        const line = buf.toString("latin1", at, eol);
        at = eol + 2;
        if (s.kind === "trailers") {
          if (line === "") this.#finish();
          continue;
        }
        const size = parseInt(line.split(";")[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new Http1ResponseError(`bad chunk size line ${JSON.stringify(line)}`);
        this.#state = size === 0 ? { kind: "trailers" } : { kind: "chunk-data", left: size };
      }
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      if (buf.length > MAX_HEAD) throw new Http1ResponseError(`no end of response head in ${buf.length} bytes`);
      this.#pending = Buffer.from(buf); // a copy: the socket's chunk is not ours to keep
    }
  }

  /** True between responses: nothing of a response has been read. */
  get idle(): boolean {
    return this.#state.kind === "head" && this.#pending.length === 0;
  }

  #startBody(head: string): void {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (!m) throw new Http1ResponseError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0])}`);
    this.#status = Number(m[1]);
    let length: number | undefined;
    let chunked = false;
    this.#close = false;
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(":");
      if (colon < 0) continue;
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding" && value.toLowerCase().includes("chunked")) chunked = true;
      else if (name === "connection" && value.toLowerCase().includes("close")) this.#close = true;
    }
    const noBody = this.#status === 204 || this.#status === 304 || (this.#status >= 100 && this.#status < 200);
    if (noBody) this.#finish();
    else if (chunked) this.#state = { kind: "chunk-size" };
    else if (length !== undefined && Number.isInteger(length) && length >= 0) {
      if (length === 0) this.#finish();
      else this.#state = { kind: "body", left: length };
    } else throw new Http1ResponseError("a response without Content-Length or chunked encoding (framed by close) is not supported");
  }

  #finish(): void {
    this.#state = { kind: "head" };
    this.#onResponse(this.#status, this.#close);
  }
}
