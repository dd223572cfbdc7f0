// IP addresses as numbers for CIDR tests: IPv4 as an unsigned 32-bit number, IPv6 as a
// BigInt. A range is parsed once at compile time; a request's address is parsed at most once
// per request. Node reports IPv4 peers on dual-stack sockets as "::ffff:a.b.c.d": those are
// IPv4 addresses and match IPv4 ranges (Envoy sees them the same way on an IPv4 listener).
import { ConfigInvalid } from "../../state/string-match.ts";

/** number: IPv4; bigint: IPv6; undefined: not an address. */
export type IpValue = number | bigint | undefined;

export function parseIPv4(s: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function hexGroups(part: string, into: number[]): boolean {
  if (part === "") return true;
  for (const g of part.split(":")) {
    if (!HEX_GROUP.test(g)) return false;
    into.push(parseInt(g, 16));
  }
  return true;
}

function parseIPv6(text: string): bigint | number | undefined {
  const zone = text.indexOf("%");
  let body = zone >= 0 ? text.slice(0, zone) : text;
  // A dotted IPv4 tail ("::ffff:10.0.0.1") stands for the last two groups.
  let v4: number | undefined;
  const lastColon = body.lastIndexOf(":");
  if (body.includes(".", lastColon)) {
    v4 = parseIPv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    body = body.endsWith("::", lastColon + 1) ? body.slice(0, lastColon + 1) : body.slice(0, lastColon);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  if (!hexGroups(halves[0]!, head) || (halves.length === 2 && !hexGroups(halves[1]!, tail))) return undefined;
  const missing = (v4 === undefined ? 8 : 6) - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  if (v4 !== undefined) words.push(Math.floor(v4 / 65536), v4 % 65536);
  // ::ffff:a.b.c.d (IPv4-mapped) is the IPv4 address a.b.c.d.
  if (words[5] === 0xffff && words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0) {
    return words[6]! * 65536 + words[7]!;
  }
  let value = 0n;
  for (const w of words) value = (value << 16n) | BigInt(w);
  return value;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4). */
export function parseIp(s: string): IpValue {
  if (s.includes(":")) return parseIPv6(s);
  return parseIPv4(s);
}

export type CidrTest = (ip: IpValue) => boolean;

/** core.v3.CidrRange -> a test on a parsed address. A prefix longer than the family's is clamped, as Envoy does. */
export function compileCidr(raw: unknown, field: string): CidrTest {
  const r = (raw ?? {}) as { address_prefix?: unknown; prefix_len?: { value?: unknown } | number };
  if (typeof r.address_prefix !== "string" || r.address_prefix === "") throw new ConfigInvalid(`${field}.address_prefix`, "an IP address is required (e.g. 10.0.0.0)");
  const base = parseIp(r.address_prefix);
  if (base === undefined) throw new ConfigInvalid(`${field}.address_prefix`, `"${r.address_prefix}" is not an IPv4 or IPv6 address`);
  // A UInt32Value holding 0 decodes as {}: Envoy's default length is 0 (everything).
  const lenRaw = typeof r.prefix_len === "object" && r.prefix_len !== null ? (r.prefix_len.value ?? 0) : (r.prefix_len ?? 0);
  if (typeof lenRaw !== "number" || !Number.isInteger(lenRaw) || lenRaw < 0) throw new ConfigInvalid(`${field}.prefix_len`, "must be a non-negative integer");
  if (typeof base === "number") {
    // An IPv4-mapped prefix ::ffff:a.b.c.d/len counts its length over the whole IPv6 address.
    const mapped = r.address_prefix.includes(":");
    const len = Math.min(32, mapped ? Math.max(0, lenRaw - 96) : lenRaw);
    if (len === 0) return (ip) => typeof ip === "number";
    const mask = len === 32 ? -1 : ~((1 << (32 - len)) - 1);
    const want = base & mask;
    return (ip) => typeof ip === "number" && (ip & mask) === want;
  }
  const len = Math.min(128, lenRaw);
  const shift = BigInt(128 - len);
  const want = base >> shift;
  return (ip) => typeof ip === "bigint" && ip >> shift === want;
}
