// The inbound security filters in Envoy's decode order: JWT authentication (RequestAuthentication)
// and RBAC (AuthorizationPolicy). Returns true when the request may go on; otherwise it has
// been answered (401 for a bad token, 403 "RBAC: access denied") and counted, and the access
// log says which policy decided.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HcmFilters } from "./http-filters.ts";
import { verifyRequestSync, wwwAuthenticate } from "./jwt-authn.ts";
import { evaluateRbac, rbacDenialDetails, RBAC_DENIED_BODY, RBAC_DENIED_STATUS, type AuthzRequest } from "./rbac.ts";
import { sendLocalReply } from "../local-reply.ts";
import type { RequestLog } from "../request-log.ts";
import type { ProxyStats } from "../../stats.ts";

const NO_METADATA: AuthzRequest["metadata"] = Object.freeze({});

export interface SecurityInput {
  method: string;
  /** Path with query. */
  path: string;
  authority: string;
}

export function runSecurityFilters(filters: HcmFilters, req: IncomingMessage, res: ServerResponse, log: RequestLog, input: SecurityInput, stats: ProxyStats, logger: Logger): boolean {
  const sock = req.socket;
  let metadata = NO_METADATA;
  if (filters.jwt) {
    const out = verifyRequestSync(filters.jwt, { headers: req.headers, path: input.path, method: input.method });
    if (!out.ok) {
      stats.inc(`jwt_authn.denied.${out.code}`);
      const challenge = wwwAuthenticate(out, `http://${input.authority}${input.path}`);
      sendLocalReply(res, log, { status: out.status, flag: "-", details: `jwt_authn_access_denied{${out.reason}}`, body: out.reason }, challenge ? { "www-authenticate": challenge } : undefined);
      return false;
    }
    stats.inc("jwt_authn.allowed");
    if (out.metadata) metadata = out.metadata as AuthzRequest["metadata"];
  }
  const rbac = filters.rbac;
  if (!rbac || rbac.length === 0) return true;
  const principal = log.downstreamPrincipal;
  const decision = evaluateRbac(rbac, {
    method: input.method,
    path: input.path,
    authority: input.authority,
    headers: req.headers,
    directRemoteIp: sock.remoteAddress ?? "",
    remoteIp: sock.remoteAddress ?? "",
    destinationIp: sock.localAddress ?? "",
    destinationPort: sock.localPort ?? 0,
    principal,
    sni: (sock as { servername?: string | false }).servername || undefined,
    metadata,
  });
  if (decision.audited?.length) logger.info({ policies: decision.audited, path: input.path, principal }, "AuthorizationPolicy AUDIT matched");
  if (decision.allowed) {
    stats.inc("rbac.allowed");
    return true;
  }
  stats.inc("rbac.denied");
  const details = rbacDenialDetails(decision);
  logger.info({ policy: decision.policy ?? "none", reason: decision.reason, method: input.method, path: input.path, principal: principal ?? "-", peer: sock.remoteAddress }, "request denied by AuthorizationPolicy");
  sendLocalReply(res, log, { status: RBAC_DENIED_STATUS, flag: "-", details, body: RBAC_DENIED_BODY });
  return false;
}
