import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccessLog, AccessLogFilter } from "../../xds/envoy-types.ts";
import { ConfigInvalid } from "../state/string-match.ts";
import { compileAccessLogs, writeAccessLogs } from "./access-log.ts";
import { RequestLog } from "./request-log.ts";

const FILE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
const JSON_KEYS: Record<string, string> = {
  start_time: "%START_TIME%", method: "%REQ(:METHOD)%", path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", protocol: "%PROTOCOL%",
  response_code: "%RESPONSE_CODE%", response_flags: "%RESPONSE_FLAGS%", response_code_details: "%RESPONSE_CODE_DETAILS%",
  bytes_received: "%BYTES_RECEIVED%", bytes_sent: "%BYTES_SENT%", duration: "%DURATION%",
  upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", x_forwarded_for: "%REQ(X-FORWARDED-FOR)%", user_agent: "%REQ(USER-AGENT)%",
  request_id: "%REQ(X-REQUEST-ID)%", authority: "%REQ(:AUTHORITY)%", upstream_host: "%UPSTREAM_HOST%", upstream_cluster: "%UPSTREAM_CLUSTER_RAW%",
  upstream_local_address: "%UPSTREAM_LOCAL_ADDRESS%", downstream_local_address: "%DOWNSTREAM_LOCAL_ADDRESS%",
  downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%", requested_server_name: "%REQUESTED_SERVER_NAME%", route_name: "%ROUTE_NAME%",
};

function jsonLogger(filter?: AccessLogFilter, keys = JSON_KEYS): AccessLog {
  const fields = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, { string_value: v }]));
  return { name: "envoy.access_loggers.file", ...(filter ? { filter } : {}), typed_config: { "@type": FILE, path: "/dev/stdout", log_format: { json_format: { fields } } } };
}

function request(status: number, flags = ""): RequestLog {
  const r = new RequestLog();
  r.method = "GET";
  r.path = "/reviews/1";
  r.status = status;
  if (flags) r.addFlag(flags);
  r.authority = "reviews:9080";
  r.upstreamCluster = "outbound|9080||reviews.default.svc.cluster.local";
  r.upstreamHost = "127.10.1.5:9080";
  r.requestId = "abc";
  r.userAgent = "curl/8";
  r.bytesSent = 12;
  r.routeName = "default";
  return r;
}

function lines(logs: AccessLog[], rs: RequestLog[]): string[] {
  const out: string[] = [];
  const compiled = compileAccessLogs(logs, "access_log");
  for (const r of rs) writeAccessLogs(compiled, r, { "x-custom": "c" }, (l) => out.push(l), r.start + 5);
  return out;
}

test("JSON format: one object per line with Istio's keys; numbers stay numbers, missing values are null", () => {
  const [line] = lines([jsonLogger()], [request(200)]);
  assert.ok(line!.endsWith("}\n") && !line!.slice(0, -1).includes("\n"));
  const o = JSON.parse(line!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o).sort(), Object.keys(JSON_KEYS).sort());
  assert.equal(o.method, "GET");
  assert.equal(o.path, "/reviews/1");
  assert.equal(o.protocol, "HTTP/1.1");
  assert.equal(o.response_code, 200);
  assert.equal(o.response_flags, null);
  assert.equal(o.duration, 5);
  assert.equal(o.bytes_sent, 12);
  assert.equal(o.authority, "reviews:9080");
  assert.equal(o.upstream_cluster, "outbound|9080||reviews.default.svc.cluster.local");
  assert.equal(o.request_id, "abc");
  assert.equal(o.user_agent, "curl/8");
  assert.equal(o.requested_server_name, null);
  assert.equal(o.route_name, "default");
  assert.equal(new Date(o.start_time as string).toISOString(), o.start_time);
});

test("text format: literal text, %COMMAND%s, %% and any request header", () => {
  const text: AccessLog = { name: "envoy.access_loggers.file", typed_config: { "@type": FILE, path: "/dev/stdout", log_format: { text_format_source: { inline_string: "%RESPONSE_CODE% 100%% %REQ(X-CUSTOM)% %REQ(X-MISSING)% %RESPONSE_FLAGS%" } } } };
  assert.deepEqual(lines([text], [request(503, "UF")]), ["503 100% c - UF\n"]);
});

test("filter: only 5xx, or any flag, are logged", () => {
  const fiveXx: AccessLogFilter = { status_code_filter: { comparison: { op: "GE", value: { default_value: 500, runtime_key: "k" } } } };
  const codes = (ls: string[]) => ls.map((l) => (JSON.parse(l) as { response_code: number }).response_code);
  const rs = [request(200), request(404), request(503), request(500), request(0, "DC")];
  assert.deepEqual(codes(lines([jsonLogger(fiveXx)], rs)), [503, 500]);
  const errorsOrFlags: AccessLogFilter = { or_filter: { filters: [fiveXx, { response_flag_filter: {} }] } };
  assert.deepEqual(codes(lines([jsonLogger(errorsOrFlags)], rs)), [503, 500, 0]);
  const getAnd4xx: AccessLogFilter = {
    and_filter: { filters: [{ header_filter: { header: { name: ":method", string_match: { exact: "GET" } } } }, { status_code_filter: { comparison: { op: "EQ", value: { default_value: 404, runtime_key: "k" } } } }] },
  };
  assert.deepEqual(codes(lines([jsonLogger(getAnd4xx)], rs)), [404]);
  const notGet: AccessLogFilter = { header_filter: { header: { name: ":method", string_match: { exact: "GET" }, invert_match: true } } };
  assert.deepEqual(lines([jsonLogger(notGet)], rs), []);
});

test("loggers to other files are skipped; formats and filters the proxy cannot honour are refused", () => {
  assert.deepEqual(compileAccessLogs([{ name: "f", typed_config: { "@type": FILE, path: "/var/log/x" } }], "a"), []);
  assert.equal(compileAccessLogs([{ name: "f", typed_config: { "@type": FILE, path: "/dev/stdout" } }], "a").length, 1);
  assert.throws(() => compileAccessLogs([jsonLogger(undefined, { x: "%DYNAMIC_METADATA(istio)%" })], "a"), (e: unknown) => e instanceof ConfigInvalid && /DYNAMIC_METADATA/.test(e.message));
  assert.throws(() => compileAccessLogs([jsonLogger({ runtime_filter: {} } as unknown as AccessLogFilter)], "a"), (e: unknown) => e instanceof ConfigInvalid && /runtime_filter/.test(e.message));
  const unterminated: AccessLog = { name: "f", typed_config: { "@type": FILE, path: "/dev/stdout", log_format: { text_format_source: { inline_string: "%RESPONSE_CODE" } } } };
  assert.throws(() => compileAccessLogs([unterminated], "a"), ConfigInvalid);
});
