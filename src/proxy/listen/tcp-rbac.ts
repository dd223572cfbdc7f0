// envoy.filters.network.rbac on a TCP chain: AuthorizationPolicy for a connection, decided
// once when it arrives (Envoy's default ONE_TIME_ON_FIRST_BYTE; the inputs cannot change
// later). The same compiled policies as the HTTP filter, with what a connection has: the
// peer's verified identity, the addresses, the port and the SNI; no request fields.
import type net from "node:net";
import type { Logger } from "pino";
import { evaluateRbac, rbacDenialDetails, type CompiledRbac } from "../http/filters/rbac.ts";
import type { RequestLog } from "../http/request-log.ts";
import type { ProxyStats } from "../stats.ts";

const NO_HEADERS = Object.freeze({});
const NO_METADATA = Object.freeze({});

/**
 * True when the connection may proceed. A denial is counted (`tcp.rbac.denied`, as Envoy
 * names it with Istio's stat prefix "tcp."), logged with the deciding policy, and written into
 * the connection's log as its termination details; the caller closes the connection.
 */
export function authorizeConnection(rbac: readonly CompiledRbac[], down: net.Socket, log: RequestLog, stats: ProxyStats, logger: Logger): boolean {
  const sni = (down as { servername?: string | false }).servername || undefined;
  const decision = evaluateRbac(rbac, {
    method: "",
    path: "",
    authority: "",
    headers: NO_HEADERS,
    directRemoteIp: down.remoteAddress ?? "",
    remoteIp: down.remoteAddress ?? "",
    destinationIp: down.localAddress ?? "",
    destinationPort: down.localPort ?? 0,
    principal: log.downstreamPrincipal,
    sni,
    metadata: NO_METADATA,
  });
  if (decision.audited?.length) logger.info({ policies: decision.audited, principal: log.downstreamPrincipal ?? "-", peer: down.remoteAddress }, "AuthorizationPolicy AUDIT matched a connection");
  if (decision.allowed) {
    stats.inc("tcp.rbac.allowed");
    return true;
  }
  stats.inc("tcp.rbac.denied");
  log.details = rbacDenialDetails(decision);
  log.connectionTermination = log.details;
  logger.info({ policy: decision.policy ?? "none", reason: decision.reason, principal: log.downstreamPrincipal ?? "-", peer: down.remoteAddress, port: down.localPort }, "connection denied by AuthorizationPolicy");
  return false;
}
