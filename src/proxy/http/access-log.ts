// Istio's default text access log line (Envoy format), one per request:
// [START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS DETAILS CONN_TERMINATION "UPSTREAM_TRANSPORT_FAILURE"
// BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_SERVICE_TIME "XFF" "USER-AGENT" "REQUEST-ID"
// "AUTHORITY" "UPSTREAM_HOST" UPSTREAM_CLUSTER UPSTREAM_LOCAL DOWNSTREAM_LOCAL DOWNSTREAM_REMOTE
// REQUESTED_SERVER_NAME ROUTE_NAME
import type { RequestLog } from "./request-log.ts";

function dash(v: string | undefined): string {
  return v === undefined || v === "" ? "-" : v;
}

export function formatAccessLog(r: RequestLog, end = Date.now()): string {
  return `[${new Date(r.start).toISOString()}] "${r.method} ${r.path} ${r.protocol}" ${r.status} ${dash(r.flags)} ${dash(r.details)} ${dash(r.connectionTermination)} "${dash(r.transportFailure)}" ${r.bytesReceived} ${r.bytesSent} ${end - r.start} ${dash(r.upstreamServiceTime)} "${dash(r.forwardedFor)}" "${dash(r.userAgent)}" "${dash(r.requestId)}" "${dash(r.authority)}" "${dash(r.upstreamHost)}" ${dash(r.upstreamCluster)} ${dash(r.upstreamLocal)} ${dash(r.downstreamLocal)} ${dash(r.downstreamRemote)} - ${dash(r.routeName)}\n`;
}

export type AccessLogSink = (line: string) => void;

export const stdoutSink: AccessLogSink = (line) => {
  process.stdout.write(line);
};
