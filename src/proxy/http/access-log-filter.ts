// Envoy's AccessLogFilter, compiled once per snapshot into a predicate over a finished request:
// status_code_filter (EQ/GE/LE), response_flag_filter (any flag, or any of the listed ones),
// header_filter (HeaderMatcher; pseudo-headers :method, :path, :authority from the log),
// and_filter, or_filter. Any other filter is refused (the listener is NACKed), because
// logging everything or nothing in its place would be silently wrong.
import type { IncomingHttpHeaders } from "node:http";
import type { AccessLogFilter, HeaderMatcher } from "../../xds/envoy-types.ts";
import { ConfigInvalid, compileStringMatcher } from "../state/string-match.ts";
import type { RequestLog } from "./request-log.ts";

export type LogPredicate = (r: RequestLog, headers?: IncomingHttpHeaders) => boolean;

function headerValue(name: string, r: RequestLog, headers: IncomingHttpHeaders | undefined): string | undefined {
  switch (name) {
    case ":method": return r.method;
    case ":path": return r.path;
    case ":authority": return r.authority;
    default: {
      const v = headers?.[name];
      return Array.isArray(v) ? v.join(",") : v;
    }
  }
}

function headerPredicate(m: HeaderMatcher, field: string): LogPredicate {
  const name = String(m?.name ?? "").toLowerCase();
  if (!name) throw new ConfigInvalid(`${field}.name`, "header name is empty");
  const invert = m.invert_match === true;
  let test: (v: string | undefined) => boolean;
  if (m.string_match) {
    const p = compileStringMatcher(m.string_match, `${field}.string_match`);
    test = (v) => v !== undefined && p(v);
  } else if (m.present_match !== undefined) {
    test = (v) => (v !== undefined) === m.present_match;
  } else {
    test = (v) => v !== undefined;
  }
  return (r, headers) => test(headerValue(name, r, headers)) !== invert;
}

function list(filters: AccessLogFilter[] | undefined, field: string): LogPredicate[] {
  if (!filters?.length) throw new ConfigInvalid(field, "needs at least one filter");
  return filters.map((f, i) => compileAccessLogFilter(f, `${field}[${i}]`));
}

export function compileAccessLogFilter(f: AccessLogFilter, field: string): LogPredicate {
  if (f?.status_code_filter) {
    const c = f.status_code_filter.comparison;
    const value = Number(c?.value?.default_value ?? 0);
    switch (c?.op ?? "EQ") {
      case "EQ": return (r) => r.status === value;
      case "GE": return (r) => r.status >= value;
      case "LE": return (r) => r.status <= value;
      default: throw new ConfigInvalid(`${field}.status_code_filter.comparison.op`, `unknown op ${String(c?.op)}`);
    }
  }
  if (f?.response_flag_filter) {
    const wanted = f.response_flag_filter.flags ?? [];
    if (wanted.length === 0) return (r) => r.flags !== "";
    const set = new Set(wanted);
    return (r) => r.flags !== "" && r.flags.split(",").some((x) => set.has(x));
  }
  if (f?.header_filter) return headerPredicate(f.header_filter.header, `${field}.header_filter.header`);
  if (f?.and_filter) {
    const ps = list(f.and_filter.filters, `${field}.and_filter.filters`);
    return (r, h) => ps.every((p) => p(r, h));
  }
  if (f?.or_filter) {
    const ps = list(f.or_filter.filters, `${field}.or_filter.filters`);
    return (r, h) => ps.some((p) => p(r, h));
  }
  const kind = Object.keys(f ?? {}).join(", ") || "empty filter";
  throw new ConfigInvalid(field, `access log filter ${kind} is not supported by the Mizzen proxy (supported: status_code_filter, response_flag_filter, header_filter, and_filter, or_filter)`);
}
