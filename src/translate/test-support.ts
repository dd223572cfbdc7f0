// Test support: build a TranslateInput from fixtures, and "simulate" a request through a
// RouteConfiguration (Istio's simulation-test idea) to assert which route it would take.
// Not used by production code.
import type { ConfigObject } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { HeaderMatcher, Route, RouteConfiguration, StringMatcher, VirtualHost } from "../xds/envoy-types.ts";
import { buildRegistry } from "../registry/build.ts";
import type { TranslateInput } from "./input.ts";
import { DEFAULT_MESH_CONFIG } from "./mesh-config.ts";

export function inputFor(objects: ConfigObject[], proxies: ProxyNode[], proxy: ProxyNode): TranslateInput {
  return { objects, registry: buildRegistry(objects, proxies), proxy, mesh: DEFAULT_MESH_CONFIG };
}

function domainMatches(domain: string, host: string): boolean {
  if (domain === "*") return true;
  if (domain.startsWith("*")) return host.endsWith(domain.slice(1));
  if (domain.endsWith("*")) return host.startsWith(domain.slice(0, -1));
  return domain === host;
}

function stringMatches(m: StringMatcher, v: string): boolean {
  if (m.exact !== undefined) return v === m.exact;
  if (m.prefix !== undefined) return v.startsWith(m.prefix);
  if (m.safe_regex) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(v);
  return true;
}

function headerMatches(h: HeaderMatcher, headers: Record<string, string>): boolean {
  const v = headers[h.name];
  const ok = h.present_match ? v !== undefined : v !== undefined && (!h.string_match || stringMatches(h.string_match, v));
  return h.invert_match ? !ok : ok;
}

export interface SimRequest {
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export function selectVirtualHost(rc: RouteConfiguration, host: string): VirtualHost | undefined {
  return rc.virtual_hosts.find((vh) => vh.domains.some((d) => domainMatches(d, host)));
}

/** The route a request would take, or undefined (Envoy: 404, flag NR). */
export function simulate(rc: RouteConfiguration, req: SimRequest): Route | undefined {
  const vh = selectVirtualHost(rc, req.host);
  if (!vh) return undefined;
  const rawPath = req.path ?? "/";
  const [path, query = ""] = rawPath.split("?");
  const params = Object.fromEntries(new URLSearchParams(query));
  const headers = { ...req.headers, ":method": req.method ?? "GET", ":authority": req.host };
  return vh.routes.find((r) => {
    const m = r.match;
    const cs = m.case_sensitive?.value !== false;
    const p = cs ? path : path.toLowerCase();
    if (m.path !== undefined && p !== (cs ? m.path : m.path.toLowerCase())) return false;
    if (m.prefix !== undefined && !p.startsWith(cs ? m.prefix : m.prefix.toLowerCase())) return false;
    if (m.safe_regex && !new RegExp(`^(?:${m.safe_regex.regex})$`).test(path)) return false;
    if (!(m.headers ?? []).every((h) => headerMatches(h, headers))) return false;
    return (m.query_parameters ?? []).every((q) => (q.present_match ? params[q.name] !== undefined : params[q.name] !== undefined && stringMatches(q.string_match ?? {}, params[q.name])));
  });
}
