// Responses the proxy makes itself, worded and flagged as Envoy does, so failures explain
// themselves in the body, the access log and the counters.
import type { ServerResponse } from "node:http";
import type { RequestLog } from "./request-log.ts";
import { addPeerHeaders } from "../telemetry/peer-metadata.ts";

export interface LocalReply { status: number; flag: string; details: string; body: string }

export const REPLY = {
  noRoute: { status: 404, flag: "NR", details: "route_not_found", body: "" },
  noRouteConfig: { status: 404, flag: "NR", details: "route_configuration_not_found", body: "" },
  noCluster: { status: 503, flag: "NC", details: "cluster_not_found", body: "no cluster" },
  noHealthyUpstream: { status: 503, flag: "UH", details: "no_healthy_upstream", body: "no healthy upstream" },
  connectFailure: { status: 503, flag: "UF", details: "upstream_reset_before_response_started{connection_failure}", body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure" },
  overflow: { status: 503, flag: "UO", details: "upstream_reset_before_response_started{overflow}", body: "upstream connect error or disconnect/reset before headers. reset reason: overflow" },
  upstreamReset: { status: 503, flag: "UC", details: "upstream_reset_before_response_started{connection_termination}", body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination" },
  timeout: { status: 504, flag: "UT", details: "upstream_response_timeout", body: "upstream request timeout" },
  perTryTimeout: { status: 504, flag: "UT", details: "upstream_per_try_timeout", body: "upstream request timeout" },
  badTarget: { status: 400, flag: "-", details: "invalid_request_target", body: "bad request: the request target must be a path or an absolute http:// URI" },
} as const satisfies Record<string, LocalReply>;

/** Writes a local reply (text/plain) unless the response already started; records it. */
export function sendLocalReply(res: ServerResponse, log: RequestLog, reply: LocalReply, extraHeaders?: Record<string, string>): void {
  log.status = reply.status;
  log.details = reply.details;
  if (reply.flag !== "-") log.addFlag(reply.flag);
  if (res.headersSent) {
    log.endedByProxy = true;
    res.destroy();
    return;
  }
  const body = Buffer.from(reply.body);
  const headers: Record<string, string | number> = { "content-type": "text/plain", "content-length": body.length, ...extraHeaders };
  if (log.replyPeer) addPeerHeaders(headers, log.replyPeer);
  res.writeHead(reply.status, headers);
  log.bytesSent = body.length;
  res.end(body);
}
