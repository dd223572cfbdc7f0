// Istio's default text access log line (Envoy format), one per request:
// [START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS DETAILS CONN_TERMINATION "UPSTREAM_TRANSPORT_FAILURE"
// BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_SERVICE_TIME "XFF" "USER-AGENT" "REQUEST-ID"
// "AUTHORITY" "UPSTREAM_HOST" UPSTREAM_CLUSTER UPSTREAM_LOCAL DOWNSTREAM_LOCAL DOWNSTREAM_REMOTE
// REQUESTED_SERVER_NAME ROUTE_NAME
// That line is what a logger without log_format prints; log_format (text or JSON) and the
// logger's filter are compiled with the listener (access-log-format.ts, access-log-filter.ts).
import type { IncomingHttpHeaders } from "node:http";
import type { AccessLog, FileAccessLog } from "../../xds/envoy-types.ts";
import { ConfigInvalid } from "../state/string-match.ts";
import { compileAccessLogFilter, type LogPredicate } from "./access-log-filter.ts";
import { compileJsonFormat, compileTextFormat, type FormatLine } from "./access-log-format.ts";
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

/** One HCM access_log entry the proxy writes: its line format and, when set, its filter. */
export interface CompiledAccessLog {
  format: FormatLine;
  filter: LogPredicate | undefined;
}

const STDOUT_PATHS = new Set(["/dev/stdout", "/dev/fd/1"]);
const FILE_LOGGER = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
const STDOUT_LOGGER = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const defaultFormat: FormatLine = (r, end) => formatAccessLog(r, end);

function compileLogFormat(f: FileAccessLog["log_format"], field: string): FormatLine {
  if (!f) return defaultFormat;
  if (f.json_format) return compileJsonFormat(f.json_format, `${field}.json_format`);
  if (f.text_format_source) {
    const text = f.text_format_source.inline_string;
    if (typeof text !== "string") throw new ConfigInvalid(`${field}.text_format_source`, "only inline_string formats are supported");
    return compileTextFormat(text, `${field}.text_format_source.inline_string`);
  }
  throw new ConfigInvalid(field, "log_format needs text_format_source or json_format");
}

/**
 * The loggers of one connection manager that write to stdout (the proxy's only sink); file
 * loggers to other paths are skipped. A format or filter the proxy cannot honour is refused.
 */
export function compileAccessLogs(logs: readonly AccessLog[] | undefined, field: string): CompiledAccessLog[] {
  const out: CompiledAccessLog[] = [];
  (logs ?? []).forEach((al, i) => {
    const at = `${field}[${i}]`;
    const cfg = (al?.typed_config ?? {}) as { "@type"?: string } & Partial<FileAccessLog>;
    const type = String(cfg["@type"] ?? "");
    let format: FormatLine;
    if (type === STDOUT_LOGGER || (!type && al?.name === "envoy.access_loggers.stdout")) format = compileLogFormat(cfg.log_format, `${at}.typed_config.log_format`);
    else if (type === FILE_LOGGER) {
      if (!STDOUT_PATHS.has(String(cfg.path ?? ""))) return;
      format = compileLogFormat(cfg.log_format, `${at}.typed_config.log_format`);
    } else return; // other loggers (gRPC, OpenTelemetry) have nowhere to write here
    const filter = al.filter ? compileAccessLogFilter(al.filter, `${at}.filter`) : undefined;
    out.push({ format, filter });
  });
  return out;
}

/** Writes one line per logger whose filter (if any) lets this request through. */
export function writeAccessLogs(logs: readonly CompiledAccessLog[], r: RequestLog, headers: IncomingHttpHeaders | undefined, sink: AccessLogSink, end = Date.now()): void {
  for (const l of logs) if (!l.filter || l.filter(r, headers)) sink(l.format(r, end, headers));
}
