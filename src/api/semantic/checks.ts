// Small checks shared by the per-kind semantic validators: names, hosts, ports, durations,
// percentages. Each returns an error sentence, or null when the value is fine.
import type { Issue } from "../schema.ts";
import type { PathSegment } from "../yaml.ts";

/** Collects issues for one object; validators call error()/warn() with a field path. */
export class Issues {
  readonly list: Issue[] = [];
  error(path: PathSegment[], message: string): void {
    this.list.push({ path, message, severity: "error" });
  }
  warn(path: PathSegment[], message: string): void {
    this.list.push({ path, message, severity: "warning" });
  }
  /** Records `message` as an error when it is not null. */
  check(path: PathSegment[], message: string | null): void {
    if (message) this.error(path, message);
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function required(value: unknown, what: string): string | null {
  if (value === undefined || value === null || value === "") return `${what} is required`;
  if (typeof value !== "string") return `${what} must be a string (got ${JSON.stringify(value)}); quote it`;
  return null;
}

export function dns1123Label(value: unknown, what: string): string | null {
  if (typeof value !== "string" || value === "") return required(value, what);
  if (value.length > 63 || !DNS1123_LABEL.test(value)) {
    return `${what} "${value}" is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit`;
  }
  return null;
}

export function dns1123Subdomain(value: unknown, what: string): string | null {
  if (typeof value !== "string" || value === "") return required(value, what);
  if (value.length > 253 || !value.split(".").every((l) => l.length <= 63 && DNS1123_LABEL.test(l))) {
    return `${what} "${value}" is not a valid DNS-1123 name: use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit (e.g. "reviews-v1")`;
  }
  return null;
}

const HOST_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/**
 * A host as Istio accepts it: an FQDN or short name made of DNS labels, optionally prefixed by
 * "*." (wildcard), or "*" alone when `allowStar`.
 */
export function hostName(value: unknown, allowStar: boolean): string | null {
  if (typeof value !== "string" || value === "") return "host must not be empty";
  if (value === "*") return allowStar ? null : `host "*" is not allowed here; name the host, or use a wildcard such as "*.example.com"`;
  if (value.length > 255) return `host "${value.slice(0, 40)}..." is longer than 255 characters`;
  let rest = value.endsWith(".") ? value.slice(0, -1) : value;
  if (rest.startsWith("*.")) rest = rest.slice(2);
  else if (rest.startsWith("*")) rest = rest.slice(1);
  if (rest.includes("*")) return `host "${value}": a wildcard "*" may only appear as the first label (e.g. "*.example.com")`;
  for (const label of rest.split(".")) {
    if (label.length === 0 || label.length > 63 || !HOST_LABEL.test(label)) {
      return `host "${value}" is not a valid domain name: each dot-separated label must be 1-63 letters, digits or "-", not starting or ending with "-"`;
    }
  }
  return null;
}

export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && !(p.length > 1 && p.startsWith("0")));
}

export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const doubles = s.split("::").length - 1;
  if (doubles > 1) return false;
  const groups = s.split(":").filter((g) => g !== "");
  const last = groups[groups.length - 1] ?? "";
  const v4Tail = last.includes(".") ? (isIPv4(last) ? 1 : -100) : 0;
  const hexGroups = groups.slice(0, v4Tail === 1 ? -1 : undefined);
  if (v4Tail < 0 || !hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = hexGroups.length + v4Tail * 2;
  return doubles ? count < 8 : count === 8;
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/** "10.0.0.0/8", "2001:db8::/32" or a bare address. */
export function ipOrCidr(value: unknown): string | null {
  if (typeof value !== "string") return "address must be a string";
  const [ip, bits, extra] = value.split("/");
  if (extra !== undefined || !ip || !isIP(ip)) return `"${value}" is not an IP address or CIDR block (e.g. 10.0.0.1 or 10.0.0.0/24)`;
  if (bits !== undefined) {
    const max = isIPv4(ip) ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${value}": prefix length must be 0..${max}`;
  }
  return null;
}

export function port(value: unknown, what = "port"): string | null {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    return `${what} must be a number from 1 to 65535 (got ${JSON.stringify(value) ?? "nothing"})`;
  }
  return null;
}

export function percent(value: unknown, what = "percentage"): string | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
    return `${what} must be between 0 and 100 (got ${JSON.stringify(value) ?? "nothing"})`;
  }
  return null;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Parses a Go/protobuf-style duration ("1.5s", "100ms", "1h30m") into milliseconds, or null. */
export function parseDurationMs(text: string): number | null {
  if (text === "") return null;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(text);
    if (!m) return null;
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? NaN);
    at = DURATION_PART.lastIndex;
  }
  return Number.isFinite(total) ? total : null;
}

/** A duration field: a string like "1.5s", at least 1ms. */
export function duration(value: unknown, what = "duration"): string | null {
  if (typeof value !== "string") return `${what} must be a string such as "1.5s" or "100ms" (got ${JSON.stringify(value) ?? "nothing"})`;
  const ms = parseDurationMs(value);
  if (ms === null) return `${what} "${value}" is not a duration; write a number with a unit, e.g. "1.5s", "100ms", "1h"`;
  if (ms < 1) return `${what} "${value}" is shorter than 1ms; use at least "1ms"`;
  return null;
}

/** Kubernetes label map: keys [prefix/]name, values up to 63 chars. */
export function labelMap(value: unknown): string | null {
  if (!isObj(value)) return "labels must be a map of key: value";
  for (const [k, v] of Object.entries(value)) {
    const name = k.includes("/") ? k.slice(k.lastIndexOf("/") + 1) : k;
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name)) return `label key "${k}" is not valid: use letters, digits, "-", "_" and "." (at most 63), optionally after a "prefix/"`;
    if (typeof v !== "string") return `label "${k}" must have a string value (got ${JSON.stringify(v)}); quote it`;
    if (v !== "" && !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v)) return `label "${k}" has an invalid value "${v}": use at most 63 letters, digits, "-", "_" and "."`;
  }
  return null;
}
