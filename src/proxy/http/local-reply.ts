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

/** Envoy's (and gRPC's) mapping of an HTTP status without grpc-status to a gRPC code. */
export function grpcStatusOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

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
  if (log.grpc) {
    sendGrpcLocalReply(res, log, reply, extraHeaders);
    return;
  }
  const body = Buffer.from(reply.body);
  const headers: Record<string, string | number> = { "content-type": "text/plain", "content-length": body.length, ...extraHeaders };
  if (log.replyPeer) addPeerHeaders(headers, log.replyPeer);
  res.writeHead(reply.status, headers);
  log.bytesSent = body.length;
  res.end(body);
}

/**
 * As Envoy answers a gRPC request it cannot forward: HTTP 200, trailers-only, the status
 * mapped from the HTTP one and the reply text as grpc-message (the flag stays in the log).
 */
function sendGrpcLocalReply(res: ServerResponse, log: RequestLog, reply: LocalReply, extraHeaders: Record<string, string> | undefined): void {
  const headers: Record<string, string | number> = {
    "content-type": "application/grpc",
    "grpc-status": String(grpcStatusOf(reply.status)),
    "grpc-message": encodeURIComponent(reply.body || reply.details),
    ...extraHeaders,
  };
  if (log.replyPeer) addPeerHeaders(headers, log.replyPeer);
  log.status = 200;
  log.grpcStatus = String(headers["grpc-status"]);
  log.bytesSent = 0;
  // HTTP/2: one HEADERS frame with END_STREAM, what gRPC calls "trailers-only".
  const stream = (res as unknown as { stream?: { respond(h: Record<string, string | number>, o: { endStream: boolean }): void; headersSent: boolean } }).stream;
  if (stream && !stream.headersSent) {
    stream.respond({ ":status": 200, ...headers }, { endStream: true });
    return;
  }
  res.writeHead(200, { ...headers, "content-length": 0 });
  res.end();
}
