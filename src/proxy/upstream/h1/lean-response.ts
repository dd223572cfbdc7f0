// The upstream's response as the rest of the proxy reads an IncomingMessage: statusCode,
// headers (lower-cased, Node's duplicate rules), rawHeaders, trailers (also as a "trailers"
// event, like the HTTP/2 path), socket; the body is a Readable, so pipe() and backpressure
// work. Destroying it before the body ended closes the connection.
import { Readable } from "node:stream";
import type { IncomingHttpHeaders } from "node:http";
import type net from "node:net";
import type { ResponseHead } from "./response-parser.ts";

export interface ResponseControl {
  /** The reader wants more: read from the socket again. */
  resume(): void;
  /** The response was destroyed before its end. */
  abandon(err: Error | null): void;
}

export class LeanResponse extends Readable {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly httpVersion: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  trailers: IncomingHttpHeaders = {};
  rawTrailers: string[] = [];
  /** True once the whole body arrived. */
  complete = false;
  readonly socket: net.Socket;
  private readonly control: ResponseControl;

  constructor(head: ResponseHead, socket: net.Socket, control: ResponseControl) {
    super();
    this.statusCode = head.statusCode;
    this.statusMessage = head.statusMessage;
    this.httpVersion = head.httpVersion;
    this.httpVersionMinor = head.httpVersion === "1.1" ? 1 : 0;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.socket = socket;
    this.control = control;
  }

  override _read(): void {
    this.control.resume();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (!this.complete) this.control.abandon(err);
    cb(err);
  }
}
