// Compiles Envoy's StringMatcher and regexes once, into plain predicate closures, so the hot
// path never parses a pattern. Throws ConfigInvalid with the field path on bad input; the state
// layer turns that into a NACK.
import type { StringMatcher } from "../../xds/envoy-types.ts";

export class ConfigInvalid extends Error {
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.field = field;
  }
}

export type StringPredicate = (value: string) => boolean;

/**
 * Compiles an RE2-style pattern for a full match. A leading "(?i)" (RE2's inline flag, common
 * in Istio configs) becomes the JS "i" flag; everything else must be valid JS syntax too.
 */
export function compileFullRegex(pattern: unknown, field: string, ignoreCase = false): RegExp {
  if (typeof pattern !== "string") throw new ConfigInvalid(field, "regex must be a string");
  let source = pattern;
  let flags = ignoreCase ? "i" : "";
  if (source.startsWith("(?i)")) {
    source = source.slice(4);
    flags = "i";
  }
  try {
    return new RegExp(`^(?:${source})$`, flags);
  } catch (err) {
    throw new ConfigInvalid(field, `invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

export function compileStringMatcher(m: StringMatcher | undefined, field: string): StringPredicate {
  if (!m || typeof m !== "object") throw new ConfigInvalid(field, "string matcher is missing");
  const ic = m.ignore_case === true;
  if (m.exact !== undefined) {
    const want = ic ? String(m.exact).toLowerCase() : String(m.exact);
    return ic ? (v) => v.toLowerCase() === want : (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = ic ? String(m.prefix).toLowerCase() : String(m.prefix);
    return ic ? (v) => v.toLowerCase().startsWith(want) : (v) => v.startsWith(want);
  }
  if (m.suffix !== undefined) {
    const want = ic ? String(m.suffix).toLowerCase() : String(m.suffix);
    return ic ? (v) => v.toLowerCase().endsWith(want) : (v) => v.endsWith(want);
  }
  if (m.contains !== undefined) {
    const want = ic ? String(m.contains).toLowerCase() : String(m.contains);
    return ic ? (v) => v.toLowerCase().includes(want) : (v) => v.includes(want);
  }
  if (m.safe_regex !== undefined) {
    const re = compileFullRegex(m.safe_regex?.regex, `${field}.safe_regex.regex`, ic);
    return (v) => re.test(v);
  }
  throw new ConfigInvalid(field, "string matcher needs one of exact, prefix, suffix, contains, safe_regex");
}

/** Duration {seconds, nanos} to milliseconds; undefined when absent. */
export function durationMs(d: { seconds?: number | string; nanos?: number } | undefined, field: string): number | undefined {
  if (d === undefined || d === null) return undefined;
  const s = Number(d.seconds ?? 0);
  const n = Number(d.nanos ?? 0);
  if (!Number.isFinite(s) || !Number.isFinite(n) || s < 0 || n < 0) throw new ConfigInvalid(field, "duration must be non-negative");
  return s * 1000 + Math.floor(n / 1e6);
}
