// The leaf matchers of Envoy's RBAC trees, compiled once into closures over an EvalContext:
// HeaderMatcher (pseudo headers map to the request line), PathMatcher (path without query),
// MetadataMatcher / ValueMatcher over the request's dynamic metadata. Envoy's semantics,
// including its rules for absent headers and absent metadata.
import type { StringMatcher } from "../../../xds/envoy-types.ts";
import { compileFullRegex, compileStringMatcher, ConfigInvalid, type StringPredicate } from "../../state/string-match.ts";
import type { AuthzRequest } from "./rbac.ts";
import type { IpValue } from "./rbac-cidr.ts";

/** Per-request scratch: addresses and the query-less path are worked out once, on first use. */
export interface EvalContext {
  readonly req: AuthzRequest;
  directIp: IpValue | null;
  remoteIp: IpValue | null;
  destinationIp: IpValue | null;
  urlPath: string | null;
}

export type Pred = (c: EvalContext) => boolean;
type Raw = Record<string, unknown>;

export function asObject(v: unknown, field: string): Raw {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigInvalid(field, "must be an object");
  return v as Raw;
}

/** The one member of a proto oneof that is set; throws on none, several, or an unknown field. */
export function oneOf(o: Raw, known: readonly string[], field: string, what: string): string {
  let found: string | undefined;
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (!known.includes(k)) throw new ConfigInvalid(`${field}.${k}`, `unknown or unsupported field of ${what} (the Mizzen proxy supports: ${known.join(", ")})`);
    if (found !== undefined) throw new ConfigInvalid(field, `${what} sets both ${found} and ${k}; set exactly one`);
    found = k;
  }
  if (found === undefined) throw new ConfigInvalid(field, `${what} is empty; set one of ${known.join(", ")}`);
  return found;
}

type HeaderGetter = (req: AuthzRequest) => string | undefined;

function headerGetter(name: string): HeaderGetter {
  switch (name) {
    case ":method": return (r) => r.method;
    case ":path": return (r) => r.path;
    case ":authority":
    case "host": return (r) => r.authority;
    default: return (r) => {
      const v = r.headers[name];
      return Array.isArray(v) ? v.join(",") : v;
    };
  }
}

function int64(v: unknown, field: string): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new ConfigInvalid(field, "must be an integer");
  return n;
}

/** route.v3.HeaderMatcher -> predicate. */
export function compileHeaderMatcher(raw: unknown, field: string): Pred {
  const h = asObject(raw, field);
  const name = typeof h.name === "string" ? h.name.toLowerCase() : "";
  if (!name) throw new ConfigInvalid(`${field}.name`, "a header name is required");
  const get = headerGetter(name);
  const invert = h.invert_match === true;
  const missingAsEmpty = h.treat_missing_header_as_empty === true;
  let presence: boolean | undefined; // set for a presence test
  let test: StringPredicate | undefined;
  const str = (k: string): string => String(h[k]);
  if (h.string_match !== undefined && h.string_match !== null) test = compileStringMatcher(h.string_match as StringMatcher, `${field}.string_match`);
  else if (typeof h.exact_match === "string") { const want = str("exact_match"); test = want === "" ? () => true : (v) => v === want; }
  else if (typeof h.prefix_match === "string") { const want = str("prefix_match"); test = (v) => v.startsWith(want); }
  else if (typeof h.suffix_match === "string") { const want = str("suffix_match"); test = (v) => v.endsWith(want); }
  else if (typeof h.contains_match === "string") { const want = str("contains_match"); test = (v) => v.includes(want); }
  else if (h.safe_regex_match !== undefined && h.safe_regex_match !== null) {
    const re = compileFullRegex((h.safe_regex_match as { regex?: unknown }).regex, `${field}.safe_regex_match.regex`);
    test = (v) => re.test(v);
  } else if (h.range_match !== undefined && h.range_match !== null) {
    const r = asObject(h.range_match, `${field}.range_match`);
    const start = int64(r.start ?? 0, `${field}.range_match.start`);
    const end = int64(r.end ?? 0, `${field}.range_match.end`);
    test = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  } else presence = h.present_match === undefined ? true : h.present_match === true; // a bare name tests presence
  // Envoy: an absent header (unless treated as "") matches only a presence test for absence,
  // and, inverted, only a presence test for presence.
  const whenMissing = missingAsEmpty
    ? (presence !== undefined ? presence : test!("")) !== invert
    : presence !== undefined && (invert ? presence : !presence);
  if (presence !== undefined) {
    const hit = presence !== invert;
    return (c) => (get(c.req) === undefined ? whenMissing : hit);
  }
  const t = test!;
  return (c) => {
    const v = get(c.req);
    return v === undefined ? whenMissing : t(v) !== invert;
  };
}

export function urlPath(c: EvalContext): string {
  if (c.urlPath === null) {
    const p = c.req.path;
    let end = p.indexOf("?");
    const hash = p.indexOf("#");
    if (hash >= 0 && (end < 0 || hash < end)) end = hash;
    c.urlPath = end < 0 ? p : p.slice(0, end);
  }
  return c.urlPath;
}

/** type.matcher.v3.PathMatcher -> predicate on the path without query. */
export function compilePathMatcher(raw: unknown, field: string): Pred {
  const m = asObject(raw, field);
  oneOf(m, ["path"], field, "PathMatcher");
  const test = compileStringMatcher(m.path as StringMatcher, `${field}.path`);
  return (c) => test(urlPath(c));
}

type ValuePred = (v: unknown) => boolean;

const VALUE_KINDS = ["null_match", "double_match", "string_match", "bool_match", "present_match", "list_match", "or_match"] as const;

/** type.matcher.v3.ValueMatcher -> predicate on a metadata value (undefined when absent). */
export function compileValueMatcher(raw: unknown, field: string, depth = 0): ValuePred {
  if (depth > 32) throw new ConfigInvalid(field, "value matchers are nested too deeply");
  const m = asObject(raw, field);
  const kind = oneOf(m, VALUE_KINDS, field, "ValueMatcher");
  const at = `${field}.${kind}`;
  switch (kind) {
    case "null_match": return (v) => v === undefined || v === null;
    case "bool_match": { const want = m.bool_match === true; return (v) => v === want; }
    case "present_match": return m.present_match === true ? (v) => v !== undefined && v !== null : () => false;
    case "string_match": { const t = compileStringMatcher(m.string_match as StringMatcher, at); return (v) => typeof v === "string" && t(v); }
    case "double_match": {
      const d = asObject(m.double_match, at);
      if (typeof d.exact === "number") { const want = d.exact; return (v) => v === want; }
      const r = asObject(d.range, `${at}.range`);
      const start = Number(r.start ?? 0);
      const end = Number(r.end ?? 0);
      return (v) => typeof v === "number" && v >= start && v < end;
    }
    case "list_match": {
      const one = compileValueMatcher(asObject(m.list_match, at).one_of, `${at}.one_of`, depth + 1);
      // The JWT filter stores a single-valued claim as a string: it is a one-element list.
      return (v) => (Array.isArray(v) ? v.some(one) : typeof v === "string" && one(v));
    }
    default: {
      const list = asObject(m.or_match, at).value_matchers;
      if (!Array.isArray(list) || list.length === 0) throw new ConfigInvalid(`${at}.value_matchers`, "needs at least one value matcher");
      const preds = list.map((x, i) => compileValueMatcher(x, `${at}.value_matchers[${i}]`, depth + 1));
      return (v) => preds.some((p) => p(v));
    }
  }
}

/** type.matcher.v3.MetadataMatcher -> predicate on the request's dynamic metadata. */
export function compileMetadataMatcher(raw: unknown, field: string): Pred {
  const m = asObject(raw, field);
  if (typeof m.filter !== "string" || m.filter === "") throw new ConfigInvalid(`${field}.filter`, "the metadata namespace (filter) is required, e.g. istio_authn");
  const filter = m.filter;
  if (!Array.isArray(m.path) || m.path.length === 0) throw new ConfigInvalid(`${field}.path`, "at least one path segment is required");
  const keys = m.path.map((seg, i) => {
    const key = (seg as { key?: unknown } | null)?.key;
    if (typeof key !== "string" || key === "") throw new ConfigInvalid(`${field}.path[${i}].key`, "a non-empty key is required");
    return key;
  });
  const value = compileValueMatcher(m.value, `${field}.value`);
  const invert = m.invert === true;
  return (c) => {
    let v: unknown = c.req.metadata?.[filter];
    for (let i = 0; i < keys.length; i++) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) { v = undefined; break; }
      v = (v as Raw)[keys[i]!];
    }
    return value(v) !== invert;
  };
}
