// Picks the filter chain of one connection on listeners whose chains differ by more than port
// and transport (tcp_proxy chains, server_names, application_protocols), then serves it: a
// tcp_proxy chain here, an HTTP connection manager by the listener's HTTP server. Two ways in:
//   - a bound listener (an inbound port): after the TLS stage, with the socket as accepted or
//     decrypted;
//   - a CONNECT tunnel on a use_original_dst listener (the outbound HTTP_PROXY port): the
//     tunnel's authority plays the original destination, so it is handed to the virtual
//     (bind_to_port: false) listener for that address, and its host is the connection's
//     server name when the bytes carry no SNI.
import type { Socket } from "node:net";
import type { CompiledFilterChain, CompiledListener, Snapshot } from "../state/types.ts";
import { selectFilterChain } from "../state/compile-listener.ts";
import type { HttpContext } from "../http/request-handler.ts";
import { rejectedStat, STAT } from "../stats.ts";
import { inspectConnection, type Inspection } from "./inspect.ts";
import { proxyTcp } from "./tcp-proxy.ts";

export interface ChainHost {
  ctx: HttpContext;
  /** Sockets a draining listener destroys at its deadline. */
  track: Set<Socket>;
  /** Upstream connections leave from here (the pod IP). */
  bindAddress: string | undefined;
  /** Serves a connection (paused, its bytes pushed back) with the listener's HTTP server. */
  serveHttp(socket: Socket): void;
}

/** Does the listener look at bytes before choosing (SNI, transport, HTTP)? */
function inspectors(l: CompiledListener, alreadyDecrypted: boolean): { tls: boolean; http: boolean } {
  const tls = !alreadyDecrypted && l.filterChains.some((fc) => fc.serverNames !== undefined || (fc.transportProtocol !== undefined && fc.tls === undefined));
  return { tls, http: l.inspectHttp === true };
}

function serve(host: ChainHost, l: CompiledListener, socket: Socket, chain: CompiledFilterChain | undefined, origin: { host: string; port: number } | undefined): boolean {
  if (chain?.tcpProxy) {
    // The HTTP server counts the connections it serves; a tunnel was counted when it was accepted.
    if (!origin) host.ctx.stats.inc(STAT.cxTotal);
    proxyTcp({ ctx: host.ctx, listener: l, bindAddress: host.bindAddress, track: host.track }, socket, chain.tcpProxy, origin ? { originalDestination: origin } : {});
    return true;
  }
  if (chain?.hcm) {
    host.serveHttp(socket);
    return true;
  }
  return false;
}

function refuse(host: ChainHost, socket: Socket, reason: string, listener: string): void {
  host.ctx.stats.inc(rejectedStat(reason));
  host.ctx.logger.debug({ listener, reason }, "closing a downstream connection");
  socket.destroy();
}

/**
 * A connection on a bound listener with chainPerConnection: inspect (bounded by
 * listener_filters_timeout), pick the chain, serve it; no chain closes it, counted.
 */
export function dispatchBound(host: ChainHost, l: CompiledListener, socket: Socket): void {
  const decrypted = (socket as { encrypted?: boolean }).encrypted === true;
  const want = inspectors(l, decrypted);
  const pick = (r: Inspection | undefined): void => {
    const transport = decrypted ? "tls" : r?.transport ?? "raw_buffer";
    const chain = selectFilterChain(l, socket.localPort ?? l.port, transport, { serverName: r?.serverName, applicationProtocol: r?.applicationProtocol });
    if (!serve(host, l, socket, chain, undefined)) refuse(host, socket, chain ? "unsupported_filter_chain" : "no_filter_chain", l.name);
  };
  if (!want.tls && !want.http) {
    pick(undefined);
    return;
  }
  inspectConnection(socket, Buffer.alloc(0), { ...want, timeoutMs: l.listenerFiltersTimeoutMs ?? 0, continueOnTimeout: l.continueOnListenerFiltersTimeout === true }, (r, reason) => {
    if (!r) {
      if (reason === "listener_filters_timeout") refuse(host, socket, reason, l.name);
      else socket.destroy();
      return;
    }
    pick(r);
  });
}

const virtualIndex = new WeakMap<Snapshot, Map<string, CompiledListener>>();

/** The never-bound listener for host:port (exact address first, then the wildcard address). */
export function virtualListenerFor(snap: Snapshot, host: string, port: number): CompiledListener | undefined {
  let index = virtualIndex.get(snap);
  if (!index) {
    index = new Map();
    for (const l of snap.listeners.values()) if (l.bindToPort === false) index.set(`${l.host.toLowerCase()}|${l.port}`, l);
    virtualIndex.set(snap, index);
  }
  return index.get(`${host.toLowerCase()}|${port}`) ?? index.get(`0.0.0.0|${port}`) ?? index.get(`::|${port}`);
}

/**
 * A CONNECT tunnel handed to virtual listener `l`: inspect its first bytes, pick the chain
 * with the SNI (else the tunnel's host) as server name. Returns through `fallback` (with the
 * bytes pushed back) when no chain of `l` takes the connection, so HTTP and passthrough on
 * ports shared with other services keep working.
 */
export function dispatchTunnel(host: ChainHost, l: CompiledListener, socket: Socket, head: Buffer, target: { host: string; port: number }, fallback: () => void): void {
  const want = inspectors(l, false);
  const pick = (r: Inspection): void => {
    const serverName = r.serverName ?? target.host.toLowerCase();
    const chain = selectFilterChain(l, target.port, r.transport, { serverName, applicationProtocol: r.applicationProtocol });
    if (serve(host, l, socket, chain, target)) return;
    fallback();
  };
  inspectConnection(socket, head, { ...want, timeoutMs: want.tls || want.http ? l.listenerFiltersTimeoutMs ?? 0 : 0, continueOnTimeout: l.continueOnListenerFiltersTimeout === true }, (r, reason) => {
    if (!r) {
      if (reason === "listener_filters_timeout") refuse(host, socket, reason, l.name);
      else socket.destroy();
      return;
    }
    pick(r);
  });
}
