// RouteConfiguration -> CompiledRouteTable. Virtual host selection follows Envoy's order:
// exact domains, then suffix wildcards ("*.foo", longest first), then prefix wildcards
// ("foo.*", longest first), then "*". Matching is case-insensitive on the whole authority
// (host:port when a port was sent). Recent answers are cached per table.
import type { RouteConfiguration } from "../../xds/envoy-types.ts";
import type { CompiledRouteTable, CompiledVirtualHost } from "./types.ts";
import { ConfigInvalid } from "./string-match.ts";
import { compileRoute } from "./compile-route.ts";
import { compileRetryPolicy } from "./compile-retry.ts";
import { compileRouteFilterConfigs } from "../http/filters/http-filters.ts";

interface Wildcard { part: string; vhost: CompiledVirtualHost }

const CACHE_LIMIT = 1024;
const MISS: CompiledVirtualHost = { name: "", routes: [] };

export function compileRouteTable(rc: RouteConfiguration, field = "route_config"): CompiledRouteTable {
  if (!rc || typeof rc !== "object") throw new ConfigInvalid(field, "route configuration must be an object");
  const exact = new Map<string, CompiledVirtualHost>();
  const suffixes: Wildcard[] = [];
  const prefixes: Wildcard[] = [];
  let any: CompiledVirtualHost | undefined;
  const seenNames = new Set<string>();
  (rc.virtual_hosts ?? []).forEach((vh, i) => {
    const f = `${field}.virtual_hosts[${i}]`;
    if (!vh?.name) throw new ConfigInvalid(`${f}.name`, "virtual host needs a name");
    if (seenNames.has(vh.name)) throw new ConfigInvalid(`${f}.name`, `duplicate virtual host name "${vh.name}"`);
    seenNames.add(vh.name);
    const vhostRetry = compileRetryPolicy(vh.retry_policy, `${f}.retry_policy`);
    const vhostFilters = compileRouteFilterConfigs(vh.typed_per_filter_config, `${f}.typed_per_filter_config`);
    const compiled: CompiledVirtualHost = {
      name: vh.name,
      routes: (vh.routes ?? []).map((r, j) => compileRoute(r, `${f}.routes[${j}]`, vhostRetry, vhostFilters)),
    };
    if (!vh.domains?.length) throw new ConfigInvalid(`${f}.domains`, "virtual host needs at least one domain");
    for (const raw of vh.domains) {
      const d = String(raw).toLowerCase();
      const dup = () => new ConfigInvalid(`${f}.domains`, `domain "${d}" appears in more than one virtual host`);
      if (d === "*") {
        if (any) throw dup();
        any = compiled;
      } else if (d.startsWith("*")) {
        if (suffixes.some((w) => w.part === d.slice(1))) throw dup();
        suffixes.push({ part: d.slice(1), vhost: compiled });
      } else if (d.endsWith("*")) {
        if (prefixes.some((w) => w.part === d.slice(0, -1))) throw dup();
        prefixes.push({ part: d.slice(0, -1), vhost: compiled });
      } else if (d.includes("*")) {
        throw new ConfigInvalid(`${f}.domains`, `"${d}": a wildcard may only be the first or last character`);
      } else {
        if (exact.has(d)) throw dup();
        exact.set(d, compiled);
      }
    }
  });
  suffixes.sort((a, b) => b.part.length - a.part.length);
  prefixes.sort((a, b) => b.part.length - a.part.length);

  const search = (host: string): CompiledVirtualHost | undefined => {
    const e = exact.get(host);
    if (e) return e;
    // A wildcard must match at least one character, as in Envoy.
    for (const w of suffixes) if (host.length > w.part.length && host.endsWith(w.part)) return w.vhost;
    for (const w of prefixes) if (host.length > w.part.length && host.startsWith(w.part)) return w.vhost;
    return any;
  };
  const cache = new Map<string, CompiledVirtualHost>();
  return {
    name: rc.name,
    virtualHostCount: seenNames.size,
    findVirtualHost(authority: string) {
      const hit = cache.get(authority);
      if (hit !== undefined) return hit === MISS ? undefined : hit;
      const found = search(authority.toLowerCase());
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(authority, found ?? MISS);
      return found;
    },
  };
}
