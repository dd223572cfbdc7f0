// Test helpers (not used by production code): a minimal RFC 6455 WebSocket on raw sockets,
// an echo server built on node:http's "upgrade" event, and a client that can speak through
// an explicit proxy (absolute-form or Host-routed request line). Text frames only, plus close.
import http from "node:http";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;

export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** One frame, FIN set; clients mask (RFC 6455 5.3), servers do not. */
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]) : (() => {
    const b = Buffer.alloc(10);
    b[0] = 0x80 | opcode;
    b[1] = 127;
    b.writeBigUInt64BE(BigInt(len), 2);
    return b;
  })();
  if (!mask) return Buffer.concat([head, payload]);
  head[1] = head[1]! | 0x80;
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!;
  return Buffer.concat([head, key, body]);
}

export interface Frame { opcode: number; payload: Buffer }

/** Feeds bytes, yields whole frames (unmasked). */
export class FrameReader {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return out;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return out;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return out;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const keyAt = off;
      if (masked) off += 4;
      if (b.length < off + len) return out;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ b[keyAt + (i % 4)]!;
      out.push({ opcode: b[0]! & 0x0f, payload });
      this.buf = b.subarray(off + len);
    }
  }
}

export interface WsServer { port: number; server: http.Server; upgrades: number; close(): Promise<void> }

/** Echoes each text message as "<id>:<message>"; answers a close frame with one. Plain requests get 426. */
export async function startWsEchoServer(host: string, port: number, id: string): Promise<WsServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("websocket only\n");
  });
  const state: WsServer = { port: 0, server, upgrades: 0, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); for (const s of sockets) s.destroy(); }) };
  const sockets = new Set<net.Socket>();
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    const key = req.headers["sec-websocket-key"];
    if (req.headers.upgrade?.toLowerCase() !== "websocket" || typeof key !== "string") {
      socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    state.upgrades++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nx-served-by: ${id}\r\n\r\n`);
    const reader = new FrameReader();
    socket.on("data", (c: Buffer) => {
      for (const f of reader.push(c)) {
        if (f.opcode === OP_TEXT) socket.write(encodeFrame(OP_TEXT, Buffer.from(`${id}:${f.payload.toString()}`), false));
        else if (f.opcode === OP_CLOSE) socket.end(encodeFrame(OP_CLOSE, f.payload, false));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  return state;
}

export interface WsClient {
  status: number;
  headers: Record<string, string>;
  /** The response body when the upgrade was refused. */
  body: string;
  send(text: string): void;
  /** The next text message from the server. */
  next(): Promise<string>;
  /** Sends a close frame and resolves once the connection is closed. */
  close(): Promise<void>;
}

/**
 * Opens a WebSocket on host:port (a proxy or the server) with `requestTarget` as the request
 * line target (a path, or an absolute http:// URI through a proxy) and `hostHeader` as Host.
 */
export function wsConnect(o: { host: string; port: number; requestTarget: string; hostHeader: string; timeoutMs?: number }): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(o.port, o.host);
    socket.setTimeout(o.timeoutMs ?? 10_000, () => socket.destroy(new Error("websocket test timed out")));
    const key = randomBytes(16).toString("base64");
    let buf = Buffer.alloc(0);
    const messages: string[] = [];
    const waiters: ((m: string) => void)[] = [];
    const reader = new FrameReader();
    let closed = false;
    const closedWaiters: (() => void)[] = [];
    socket.once("close", () => {
      closed = true;
      for (const w of closedWaiters.splice(0)) w();
    });
    const onFrames = (c: Buffer): void => {
      for (const f of reader.push(c)) {
        if (f.opcode !== OP_TEXT) continue;
        const m = f.payload.toString();
        const w = waiters.shift();
        if (w) w(m);
        else messages.push(m);
      }
    };
    const onHead = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      const [statusLine, ...lines] = buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(statusLine!.split(" ")[1]);
      const rest = buf.subarray(end + 4);
      if (status !== 101) {
        let body = rest.toString();
        socket.on("data", (d: Buffer) => (body += d.toString()));
        socket.once("close", () => resolve({ status, headers, body, send() {}, next: () => Promise.reject(new Error("not upgraded")), close: async () => {} }));
        socket.on("error", () => {});
        return;
      }
      if (headers["sec-websocket-accept"] !== acceptKey(key)) {
        reject(new Error(`bad Sec-WebSocket-Accept ${headers["sec-websocket-accept"]}`));
        socket.destroy();
        return;
      }
      socket.on("data", onFrames);
      if (rest.length) onFrames(rest);
      resolve({
        status,
        headers,
        body: "",
        send: (text) => socket.write(encodeFrame(OP_TEXT, Buffer.from(text), true)),
        next: () => new Promise((res, rej) => {
          const m = messages.shift();
          if (m !== undefined) res(m);
          else if (closed) rej(new Error("connection closed"));
          else waiters.push(res);
        }),
        close: () => new Promise<void>((res) => {
          if (closed) return res();
          closedWaiters.push(res);
          socket.write(encodeFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]), true));
        }),
      });
    };
    socket.on("data", onHead);
    socket.on("error", reject);
    socket.write(`GET ${o.requestTarget} HTTP/1.1\r\nHost: ${o.hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}
