// VirtualService HTTPMatchRequest -> Envoy RouteMatch.
import type { HeaderMatcher, QueryParameterMatcher, RouteMatch, StringMatcher } from "../xds/envoy-types.ts";
import { bool, obj, str, type Obj } from "../registry/read-spec.ts";

/** Istio StringMatch {exact|prefix|regex} -> Envoy StringMatcher; undefined when empty. */
export function stringMatcher(m: Obj | undefined): StringMatcher | undefined {
  if (!m) return undefined;
  const exact = str(m.exact), prefix = str(m.prefix), regex = str(m.regex);
  if (exact !== undefined) return { exact };
  if (prefix !== undefined && prefix !== "") return { prefix };
  if (regex !== undefined) return { safe_regex: { regex } };
  return undefined;
}

/** A header or query condition's matcher; undefined means "present". Regex "*" is not RE2: Istio reads it as "present". */
function conditionMatcher(m: Obj | undefined): StringMatcher | undefined {
  return str(m?.regex) === "*" ? undefined : stringMatcher(m);
}

/**
 * A header condition; an empty match, empty prefix or regex "*" means "present" (Istio's rule).
 * Inverted (withoutHeaders) string matches treat a missing header as "", as Istio generates
 * them: `withoutHeaders: {x: {exact: a}}` then matches a request without x at all.
 */
export function headerMatcher(name: string, m: Obj | undefined, invert: boolean): HeaderMatcher {
  const sm = conditionMatcher(m);
  const out: HeaderMatcher = sm ? { name, string_match: sm } : { name, present_match: true };
  if (invert) out.invert_match = true;
  if (invert && sm) out.treat_missing_header_as_empty = true;
  return out;
}

function sortedEntries(o: Obj | undefined): [string, Obj | undefined][] {
  if (!o) return [];
  return Object.keys(o).sort().map((k) => [k, obj(o[k])]);
}

export function routeMatch(match: Obj | undefined): RouteMatch {
  const out: RouteMatch = {};
  const uri = obj(match?.uri);
  const exact = str(uri?.exact), prefix = str(uri?.prefix), regex = str(uri?.regex);
  if (exact !== undefined) out.path = exact;
  else if (regex !== undefined) out.safe_regex = { regex };
  else out.prefix = prefix ?? "/";
  if (match && bool(match.ignoreUriCase)) out.case_sensitive = { value: false };

  const headers: HeaderMatcher[] = [];
  for (const [name, m] of sortedEntries(obj(match?.headers))) headers.push(headerMatcher(name, m, false));
  for (const [name, m] of sortedEntries(obj(match?.withoutHeaders))) headers.push(headerMatcher(name, m, true));
  const pseudo: [string, string][] = [["method", ":method"], ["authority", ":authority"], ["scheme", ":scheme"]];
  for (const [field, header] of pseudo) {
    const m = obj(match?.[field]);
    if (m) headers.push(headerMatcher(header, m, false));
  }
  if (headers.length) out.headers = headers;

  const query: QueryParameterMatcher[] = [];
  for (const [name, m] of sortedEntries(obj(match?.queryParams))) {
    const sm = conditionMatcher(m);
    query.push(sm ? { name, string_match: sm } : { name, present_match: true });
  }
  if (query.length) out.query_parameters = query;
  return out;
}
