// An incremental HTTP/1.1 response parser for one keep-alive connection: status line and
// headers (1xx skipped), then the body framed by Content-Length, chunked encoding (extensions
// ignored, trailers kept) or the connection's end; no body after HEAD, 204 and 304. Sizes are
// bounded and anything malformed throws ProtocolError: the connection cannot be trusted after it.
import type { IncomingHttpHeaders } from "node:http";
import { emptyHeaders, HeaderError, parseHeaderLines } from "./header-object.ts";

/** Largest response head (status line and headers) and largest trailer section. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size line (size plus extensions). */
const MAX_CHUNK_LINE = 4096;

export class ProtocolError extends Error {
  readonly code = "MIZZEN_HTTP1_PROTOCOL";
}

export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  /** "1.1" or "1.0". */
  httpVersion: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

export interface ParserEvents {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onTrailers(trailers: IncomingHttpHeaders, raw: string[]): void;
  onComplete(): void;
}

// States (numbers: this runs for every byte range of every response).
const IDLE = 0;
const HEAD = 1;
const BODY_LENGTH = 2;
const BODY_UNTIL_CLOSE = 3;
const CHUNK_SIZE = 4;
const CHUNK_DATA = 5;
const CHUNK_DATA_END = 6;
const TRAILERS = 7;

const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: (.*))?$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/;

export class ResponseParser {
  private state = IDLE;
  private readonly ev: ParserEvents;
  private noBody = false;
  /** Head bytes held until the blank line arrives. */
  private pending: Buffer | undefined;
  /** Body bytes still expected (content-length or current chunk). */
  private remaining = 0;
  /** Partial line (chunk size or trailer) carried over between reads. */
  private line = "";
  private trailerLines: string[] = [];
  private trailerBytes = 0;
  /** CR seen of a chunk's closing CRLF. */
  private crSeen = false;

  constructor(ev: ParserEvents) {
    this.ev = ev;
  }

  /** A request went out: parse its response next. `noBody`: it was a HEAD request. */
  expect(noBody: boolean): void {
    this.state = HEAD;
    this.noBody = noBody;
    this.pending = undefined;
    this.line = "";
  }

  /** Whether a response is being read (head or body). */
  get busy(): boolean {
    return this.state !== IDLE;
  }

  /** Whether the body runs until the connection closes (so EOF completes it). */
  get untilClose(): boolean {
    return this.state === BODY_UNTIL_CLOSE;
  }

  execute(buf: Buffer): void {
    let pos = 0;
    const end = buf.length;
    while (pos < end) {
      switch (this.state) {
        case IDLE:
          throw new ProtocolError("data received with no request outstanding");
        case HEAD: {
          const r = this.readHead(buf, pos);
          if (r < 0) return;
          buf = this.pendingRest!;
          this.pendingRest = undefined;
          pos = r;
          if ((this.state as number) === IDLE) {
            if (pos < buf.length) throw new ProtocolError("data after the end of a response");
            this.ev.onComplete();
            return;
          }
          // The head may have come joined with earlier bytes: continue in the joined buffer.
          return this.execute(buf.subarray(pos));
        }
        case BODY_LENGTH: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) {
            if (pos < end) throw new ProtocolError("data after the end of a response");
            this.state = IDLE;
            this.ev.onBody(chunk);
            this.ev.onComplete();
            return;
          }
          this.ev.onBody(chunk);
          break;
        }
        case BODY_UNTIL_CLOSE:
          this.ev.onBody(pos === 0 ? buf : buf.subarray(pos));
          return;
        case CHUNK_SIZE: {
          const next = this.readLine(buf, pos, MAX_CHUNK_LINE, "chunk size line");
          if (next < 0) return;
          pos = next;
          const m = CHUNK_SIZE_LINE.exec(this.takeLine());
          if (!m) throw new ProtocolError("malformed chunk size line");
          const size = parseInt(m[1], 16);
          if (size === 0) {
            this.state = TRAILERS;
            this.trailerLines = [];
            this.trailerBytes = 0;
          } else {
            this.remaining = size;
            this.state = CHUNK_DATA;
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) {
            this.state = CHUNK_DATA_END;
            this.crSeen = false;
          }
          this.ev.onBody(chunk);
          break;
        }
        case CHUNK_DATA_END: {
          const c = buf[pos++];
          if (!this.crSeen && c === 13) this.crSeen = true;
          else if (this.crSeen && c === 10) this.state = CHUNK_SIZE;
          else throw new ProtocolError("chunk data not followed by CRLF");
          break;
        }
        case TRAILERS: {
          const next = this.readLine(buf, pos, MAX_HEAD_BYTES - this.trailerBytes, "trailer section");
          if (next < 0) return;
          this.trailerBytes += next - pos;
          pos = next;
          const l = this.takeLine();
          if (l !== "") {
            this.trailerLines.push(l);
            break;
          }
          if (pos < end) throw new ProtocolError("data after the end of a response");
          this.state = IDLE;
          if (this.trailerLines.length > 0) {
            const t = emptyHeaders();
            const raw: string[] = [];
            try {
              parseHeaderLines(this.trailerLines, 0, t, raw);
            } catch (e) {
              throw new ProtocolError(`bad trailer: ${(e as Error).message}`);
            }
            this.trailerLines = [];
            this.ev.onTrailers(t, raw);
          }
          this.ev.onComplete();
          return;
        }
      }
    }
  }

  /**
   * The connection ended. Completes a body that runs until close; throws ProtocolError when a
   * response was cut short. Nothing happens when no response was expected.
   */
  finish(): void {
    if (this.state === IDLE) return;
    if (this.state === BODY_UNTIL_CLOSE) {
      this.state = IDLE;
      this.ev.onComplete();
      return;
    }
    const beforeAnyByte = this.state === HEAD && this.pending === undefined;
    const what = this.state === HEAD ? "in the response head" : "in the response body";
    this.state = IDLE;
    // Closed before answering: what Node's client reports too (a stale keep-alive connection).
    if (beforeAnyByte) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    throw new ProtocolError(`connection closed ${what}`);
  }

  private pendingRest: Buffer | undefined;

  /** Reads the head from buf[pos..]; returns the offset after it in pendingRest, or -1 for more. */
  private readHead(buf: Buffer, pos: number): number {
    const prev = this.pending;
    const data = prev ? Buffer.concat([prev, buf.subarray(pos)]) : pos === 0 ? buf : buf.subarray(pos);
    const from = prev ? Math.max(0, prev.length - 3) : 0;
    const at = data.indexOf("\r\n\r\n", from, "latin1");
    if (at < 0 || at + 4 > MAX_HEAD_BYTES) {
      if (data.length > MAX_HEAD_BYTES || at >= 0) throw new ProtocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
      // A head ended by bare LFs would never show CRLFCRLF: fail now instead of waiting for a timeout.
      if (data.indexOf("\n\n", from, "latin1") >= 0) throw new ProtocolError("response head lines end in a bare LF; HTTP/1.1 needs CRLF");
      this.pending = data;
      return -1;
    }
    this.pending = undefined;
    this.pendingRest = data;
    this.onHeadText(data.toString("latin1", 0, at));
    return at + 4;
  }

  private onHeadText(text: string): void {
    const lines = text.split("\r\n");
    const m = STATUS_LINE.exec(lines[0]);
    if (!m) throw new ProtocolError(`malformed status line "${lines[0].slice(0, 60)}"`);
    const status = Number(m[2]);
    const headers = emptyHeaders();
    const raw: string[] = [];
    try {
      parseHeaderLines(lines, 1, headers, raw);
    } catch (e) {
      if (e instanceof HeaderError) throw new ProtocolError(e.message);
      throw e;
    }
    if (status < 200) {
      if (status === 101) throw new ProtocolError("101 Switching Protocols to a request that did not ask to upgrade");
      return; // 100 Continue, 103 Early Hints: the real answer follows
    }
    const version = m[1] === "1" ? "1.1" : "1.0";
    const conn = headers.connection?.toLowerCase();
    let keepAlive = version === "1.1" ? !(conn !== undefined && /(?:^|,)\s*close\s*(?:,|$)/.test(conn)) : conn !== undefined && /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(conn);
    if (this.noBody || status === 204 || status === 304) {
      this.state = IDLE;
    } else {
      const te = headers["transfer-encoding"];
      const cl = headers["content-length"];
      if (te !== undefined) {
        if (cl !== undefined) throw new ProtocolError("both Transfer-Encoding and Content-Length");
        if (/(?:^|,)\s*chunked\s*$/i.test(te)) this.state = CHUNK_SIZE;
        else {
          this.state = BODY_UNTIL_CLOSE;
          keepAlive = false;
        }
      } else if (cl !== undefined) {
        this.checkContentLengths(raw, cl);
        this.remaining = Number(cl);
        this.state = this.remaining === 0 ? IDLE : BODY_LENGTH;
      } else {
        this.state = BODY_UNTIL_CLOSE;
        keepAlive = false;
      }
    }
    this.ev.onHead({ statusCode: status, statusMessage: m[3] ?? "", httpVersion: version, headers, rawHeaders: raw, keepAlive });
  }

  /** One decimal length; repeated Content-Length fields must agree (else the framing is ambiguous). */
  private checkContentLengths(raw: readonly string[], first: string): void {
    if (!/^[0-9]{1,15}$/.test(first)) throw new ProtocolError(`invalid Content-Length "${first.slice(0, 30)}"`);
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === 14 && raw[i].toLowerCase() === "content-length" && raw[i + 1] !== first) throw new ProtocolError("conflicting Content-Length values");
    }
  }

  /** Reads up to LF into this.line; returns the offset after the LF, or -1 when the line goes on. */
  private readLine(buf: Buffer, pos: number, max: number, what: string): number {
    const lf = buf.indexOf(10, pos);
    const stop = lf < 0 ? buf.length : lf;
    if (this.line.length + (stop - pos) > max) throw new ProtocolError(`${what} over ${max} bytes`);
    this.line += buf.toString("latin1", pos, stop);
    return lf < 0 ? -1 : lf + 1;
  }

  /** The line read, without its CR (which must be there). */
  private takeLine(): string {
    const l = this.line;
    this.line = "";
    if (l.charCodeAt(l.length - 1) !== 13) throw new ProtocolError("line not ended by CRLF");
    return l.slice(0, -1);
  }
}
