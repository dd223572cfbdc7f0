// RouteAction.hash_policy -> CompiledHashPolicy[]: where each entry takes the request's key
// from. Evaluated per request by upstream/request-hash.ts, only for RING_HASH and MAGLEV
// clusters (Envoy's other balancers never ask for a hash).
import type { HashPolicy } from "../../xds/envoy-types.ts";
import type { CompiledHashPolicy, HashSource } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";

function compileSource(h: HashPolicy, field: string): HashSource | undefined {
  const kinds = (["header", "cookie", "connection_properties", "query_parameter"] as const).filter((k) => h[k] !== undefined && h[k] !== null);
  const extra = Object.keys(h).filter((k) => k !== "terminal" && !kinds.includes(k as (typeof kinds)[number]) && (h as Record<string, unknown>)[k] !== undefined);
  if (extra.length > 0) throw new ConfigInvalid(`${field}.${extra[0]}`, `hash policy ${extra[0]} is not supported; use header, cookie, connection_properties or query_parameter`);
  if (kinds.length !== 1) throw new ConfigInvalid(field, "a hash policy needs exactly one of header, cookie, connection_properties, query_parameter");
  if (h.header) {
    const name = String(h.header.header_name ?? "").toLowerCase();
    if (!name) throw new ConfigInvalid(`${field}.header.header_name`, "header hash policy needs a header name");
    return { kind: "header", name };
  }
  if (h.cookie) {
    const name = String(h.cookie.name ?? "");
    if (!name) throw new ConfigInvalid(`${field}.cookie.name`, "cookie hash policy needs a cookie name");
    const ttlMs = durationMs(h.cookie.ttl, `${field}.cookie.ttl`);
    if (ttlMs !== undefined && ttlMs < 0) throw new ConfigInvalid(`${field}.cookie.ttl`, "ttl cannot be negative");
    return { kind: "cookie", name, path: String(h.cookie.path ?? ""), ttlSeconds: ttlMs === undefined ? undefined : Math.floor(ttlMs / 1000) };
  }
  if (h.connection_properties) {
    // source_ip: false hashes nothing: Envoy leaves such an entry out.
    return h.connection_properties.source_ip === true ? { kind: "source_ip" } : undefined;
  }
  const name = String(h.query_parameter?.name ?? "");
  if (!name) throw new ConfigInvalid(`${field}.query_parameter.name`, "query parameter hash policy needs a parameter name");
  return { kind: "query_parameter", name };
}

/** undefined when the route has no hash policy. */
export function compileHashPolicies(list: unknown, field: string): readonly CompiledHashPolicy[] | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw new ConfigInvalid(field, "must be a list");
  if (list.length === 0) return undefined;
  const out: CompiledHashPolicy[] = [];
  list.forEach((h: HashPolicy | null, i) => {
    const f = `${field}[${i}]`;
    if (!h || typeof h !== "object") throw new ConfigInvalid(f, "hash policy must be an object");
    const source = compileSource(h, f);
    if (source) out.push({ source, terminal: h.terminal === true });
  });
  return out.length > 0 ? out : undefined;
}
