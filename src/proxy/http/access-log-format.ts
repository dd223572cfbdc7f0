// Envoy substitution formats for the access log, compiled once per snapshot: a text format
// ("%COMMAND%" tokens between literal text) or a JSON format (one object per line, each value
// a format string; a value that is one command keeps its type: numbers stay numbers, a missing
// value is null). Only the commands a RequestLog can answer are accepted; any other is refused,
// so the proxy NACKs the listener instead of printing something wrong.
import type { IncomingHttpHeaders } from "node:http";
import type { Struct, StructValue } from "../../xds/envoy-types.ts";
import { ConfigInvalid } from "../state/string-match.ts";
import type { RequestLog } from "./request-log.ts";

type Value = string | number | undefined;
type Extract = (r: RequestLog, end: number, headers: IncomingHttpHeaders | undefined) => Value;
/** One log line (with its newline) for a finished request. */
export type FormatLine = (r: RequestLog, end: number, headers?: IncomingHttpHeaders) => string;

const orUndefined = (v: string | undefined): string | undefined => (v === undefined || v === "" || v === "-" ? undefined : v);

const COMMANDS: Record<string, Extract> = {
  START_TIME: (r) => new Date(r.start).toISOString(),
  PROTOCOL: (r) => r.protocol,
  RESPONSE_CODE: (r) => r.status,
  RESPONSE_FLAGS: (r) => orUndefined(r.flags),
  RESPONSE_CODE_DETAILS: (r) => orUndefined(r.details),
  CONNECTION_TERMINATION_DETAILS: (r) => orUndefined(r.connectionTermination),
  UPSTREAM_TRANSPORT_FAILURE_REASON: (r) => orUndefined(r.transportFailure),
  BYTES_RECEIVED: (r) => r.bytesReceived,
  BYTES_SENT: (r) => r.bytesSent,
  DURATION: (r, end) => end - r.start,
  UPSTREAM_HOST: (r) => orUndefined(r.upstreamHost),
  UPSTREAM_CLUSTER: (r) => orUndefined(r.upstreamCluster),
  UPSTREAM_CLUSTER_RAW: (r) => orUndefined(r.upstreamCluster),
  UPSTREAM_LOCAL_ADDRESS: (r) => orUndefined(r.upstreamLocal),
  DOWNSTREAM_LOCAL_ADDRESS: (r) => orUndefined(r.downstreamLocal),
  DOWNSTREAM_REMOTE_ADDRESS: (r) => orUndefined(r.downstreamRemote),
  REQUESTED_SERVER_NAME: () => undefined, // plaintext only: no SNI
  ROUTE_NAME: (r) => orUndefined(r.routeName),
};

/** Request headers the RequestLog records itself (it sees them before the proxy rewrites any). */
const REQUEST_HEADERS: Record<string, (r: RequestLog) => string | undefined> = {
  ":method": (r) => orUndefined(r.method),
  ":path": (r) => orUndefined(r.path),
  "x-envoy-original-path?:path": (r) => orUndefined(r.path),
  ":authority": (r) => orUndefined(r.authority),
  "x-forwarded-for": (r) => r.forwardedFor,
  "user-agent": (r) => r.userAgent,
  "x-request-id": (r) => r.requestId,
};

function headerCommand(arg: string, field: string): Extract {
  const name = arg.toLowerCase();
  const known = REQUEST_HEADERS[name];
  if (known) return (r) => known(r);
  if (name.startsWith(":") || name.includes("?")) throw new ConfigInvalid(field, `REQ(${arg}) is not supported by the Mizzen proxy`);
  return (_r, _e, headers) => {
    const v = headers?.[name];
    return Array.isArray(v) ? v.join(",") : v;
  };
}

function command(text: string, field: string): Extract {
  const m = /^(REQ|RESP)\(([^)]+)\)$/.exec(text);
  if (m) {
    if (m[1] === "REQ") return headerCommand(m[2]!, field);
    if (m[2]!.toLowerCase() === "x-envoy-upstream-service-time") return (r) => orUndefined(r.upstreamServiceTime);
    throw new ConfigInvalid(field, `RESP(${m[2]}) is not supported by the Mizzen proxy (only RESP(X-ENVOY-UPSTREAM-SERVICE-TIME))`);
  }
  const c = COMMANDS[text];
  if (!c) throw new ConfigInvalid(field, `format command %${text}% is not supported by the Mizzen proxy`);
  return c;
}

type Part = string | Extract;

function parseFormat(format: string, field: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  let i = 0;
  while (i < format.length) {
    const ch = format[i]!;
    if (ch !== "%") {
      literal += ch;
      i++;
      continue;
    }
    if (format[i + 1] === "%") {
      literal += "%";
      i += 2;
      continue;
    }
    const close = format.indexOf("%", i + 1);
    if (close < 0) throw new ConfigInvalid(field, `unterminated %command at offset ${i}`);
    if (literal) parts.push(literal);
    literal = "";
    parts.push(command(format.slice(i + 1, close), field));
    i = close + 1;
  }
  if (literal) parts.push(literal);
  return parts;
}

function renderText(parts: Part[], r: RequestLog, end: number, headers: IncomingHttpHeaders | undefined): string {
  let out = "";
  for (const p of parts) {
    if (typeof p === "string") out += p;
    else {
      const v = p(r, end, headers);
      out += v === undefined ? "-" : String(v);
    }
  }
  return out;
}

export function compileTextFormat(format: string, field: string): FormatLine {
  const parts = parseFormat(format, field);
  return (r, end, headers) => {
    const line = renderText(parts, r, end, headers);
    return line.endsWith("\n") ? line : `${line}\n`;
  };
}

function jsonValue(v: StructValue, field: string): (r: RequestLog, end: number, headers: IncomingHttpHeaders | undefined) => unknown {
  if (typeof v?.string_value === "string") {
    const parts = parseFormat(v.string_value, field);
    if (parts.length === 1 && typeof parts[0] !== "string") {
      const one = parts[0]!;
      return (r, end, headers) => one(r, end, headers) ?? null;
    }
    return (r, end, headers) => renderText(parts, r, end, headers);
  }
  if (typeof v?.number_value === "number") return () => v.number_value;
  if (typeof v?.bool_value === "boolean") return () => v.bool_value;
  throw new ConfigInvalid(field, "JSON access log values must be strings (format strings), numbers or booleans");
}

export function compileJsonFormat(struct: Struct, field: string): FormatLine {
  const entries = Object.entries(struct?.fields ?? {}).map(([k, v]) => [k, jsonValue(v, `${field}.${k}`)] as const);
  if (entries.length === 0) throw new ConfigInvalid(field, "json_format has no keys");
  return (r, end, headers) => {
    const o: Record<string, unknown> = {};
    for (const [k, get] of entries) o[k] = get(r, end, headers);
    return `${JSON.stringify(o)}\n`;
  };
}
