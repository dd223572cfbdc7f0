// HTTP/2 cleartext with prior knowledge (how gRPC clients dial) on the same port as HTTP/1.1.
// The HTTP/1.1 server's own "connection" handler is taken out and put behind a sniff of the
// first bytes: the HTTP/2 connection preface goes to an http2 server, anything else to the
// HTTP/1.1 handler. Sockets a CONNECT tunnel hands back (server.emit("connection")) pass the
// same sniff, so gRPC over an HTTP_PROXY tunnel works too.
// An http2 session reads a net.Socket's handle directly and would miss the sniffed bytes, so
// it gets a small duplex that replays them and then relays the socket; the real socket stays
// reachable (for addresses and ports) through downstreamSocket().
import type http from "node:http";
import type http2 from "node:http2";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** How long a new connection may stay silent before its first byte. */
export const FIRST_BYTE_TIMEOUT_MS = 60_000;

/** True when the bytes are (the start of) the HTTP/2 preface; needs at least "PRI". */
export function looksLikeH2Preface(first: Buffer): boolean {
  const n = Math.min(first.length, PREFACE.length);
  return n >= 3 && first.subarray(0, n).equals(PREFACE.subarray(0, n));
}

type ConnectionHandler = (socket: Socket) => void;

const realSockets = new WeakMap<http2.Http2Session, Socket>();
let handingOver: Socket | undefined;

/** The accepted socket under an HTTP/2 session started by the sniff. */
export function downstreamSocket(session: http2.Http2Session): Socket | undefined {
  return realSockets.get(session);
}

/** Call from the http2 server's "session" event: links the session to its real socket. */
export function adoptSession(session: http2.Http2Session): void {
  if (handingOver) realSockets.set(session, handingOver);
}

/** A duplex that yields `first`, then whatever the socket reads; writes go to the socket. */
function replaying(socket: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(first);
  socket.on("data", (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.once("end", () => d.push(null));
  socket.once("close", () => d.destroy());
  return d;
}

/** Routes every new connection of `server` to itself (HTTP/1.1) or to `h2` by its first bytes. */
export function installH2cSniff(server: http.Server, h2: http2.Http2Server): void {
  const h1Handlers = server.listeners("connection") as ConnectionHandler[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    const decide = (first: Buffer): void => {
      socket.setTimeout(0);
      socket.off("timeout", onSilent);
      socket.off("end", onSilent);
      socket.pause();
      if (looksLikeH2Preface(first)) {
        handingOver = socket;
        try {
          h2.emit("connection", replaying(socket, first));
        } finally {
          handingOver = undefined;
        }
        return;
      }
      socket.unshift(first);
      for (const h of h1Handlers) h.call(server, socket);
      socket.resume();
    };
    const onSilent = (): void => {
      socket.destroy();
    };
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS);
    socket.on("timeout", onSilent);
    // The HTTP server allows half-open sockets; a peer that closes before sending a byte must
    // not leave ours open (CLOSE-WAIT) until the timeout, holding up drain and shutdown.
    socket.once("end", onSilent);
    socket.once("data", decide);
    socket.on("error", () => socket.destroy());
  });
}
