// Sockets that arrived through a CONNECT tunnel remember the authority the client asked
// for ("details:9080"): a request inside the tunnel without a Host header is routed by it.
import type { Socket } from "node:net";

const authorities = new WeakMap<Socket, string>();

export function markTunnel(socket: Socket, authority: string): void {
  authorities.set(socket, authority);
}

/** The CONNECT authority of a tunnelled socket, undefined for a plain connection. */
export function tunnelAuthority(socket: Socket): string | undefined {
  return authorities.get(socket);
}
