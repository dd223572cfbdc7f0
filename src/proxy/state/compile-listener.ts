// Listener -> CompiledListener. The listener decides which filter chain serves a connection
// from the Listener itself (filter_chain_match), never from Istio concepts, so transparent
// capture can later reuse this as is. Listeners without an address (proxyless gRPC's
// api_listener) are not served by a sidecar and compile to undefined.
// A chain ends in an HTTP connection manager or a tcp_proxy; chains are told apart by
// destination port, server name (SNI, or a CONNECT tunnel's host), transport protocol and
// application protocol (http_inspector), in Envoy's order.
import type { FilterChain, HttpConnectionManager, Listener, TcpProxy } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import type { CompiledFilterChain, CompiledHcm, CompiledListener } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";
import { compileTcpProxy } from "./compile-tcp-proxy.ts";
import { compileRouteTable } from "./compile-route-table.ts";
import { addHcmFilter, type HcmFilters } from "../http/filters/http-filters.ts";
import { compileAccessLogs } from "../http/access-log.ts";
import { compileDownstreamTls, isRawBuffer } from "../tls/compile-transport.ts";
import { compileTracing } from "../telemetry/tracing/compile-tracing.ts";
import { compileStatsConfig, isStatsFilter } from "../telemetry/stats-config.ts";
import { compileRbac, NETWORK_RBAC_TYPE_URL } from "../http/filters/rbac.ts";

const ROUTER_NAME = "envoy.filters.http.router";
const HCM_NAME = "envoy.filters.network.http_connection_manager";
const TCP_PROXY_NAME = "envoy.filters.network.tcp_proxy";
const TLS_INSPECTOR = "envoy.filters.listener.tls_inspector";
const HTTP_INSPECTOR = "envoy.filters.listener.http_inspector";
/** Envoy's default listener_filters_timeout. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;
/** Envoy's default max_headers_count. */
export const DEFAULT_MAX_HEADERS = 100;

function compileHcm(hcm: HttpConnectionManager, field: string): CompiledHcm {
  const filters = hcm.http_filters ?? [];
  const httpFilters: HcmFilters = { fault: false, cors: false, defaultFault: undefined };
  filters.forEach((f, i) => {
    const isRouter = f?.name === ROUTER_NAME || f?.typed_config?.["@type"] === TYPE.router;
    const optional = (f as { is_optional?: boolean }).is_optional === true;
    if (!isRouter && f && addHcmFilter(httpFilters, f, `${field}.http_filters[${i}]`)) return; // fault, CORS
    // An HTTP filter we cannot run (RBAC, JWT, ...) would silently weaken policy: refuse it.
    if (!isRouter && !optional) throw new ConfigInvalid(`${field}.http_filters[${i}]`, `HTTP filter "${String(f?.name)}" is not supported by the Mizzen proxy (mark it is_optional or remove it)`);
  });
  if (!filters.some((f) => f?.name === ROUTER_NAME || f?.typed_config?.["@type"] === TYPE.router)) {
    throw new ConfigInvalid(`${field}.http_filters`, "the router filter is missing; it must be the last HTTP filter");
  }
  let rdsName: string | undefined;
  let inlineRoutes;
  if (hcm.rds && hcm.route_config) throw new ConfigInvalid(field, "rds and route_config are exclusive");
  if (hcm.rds) {
    rdsName = hcm.rds.route_config_name;
    if (!rdsName) throw new ConfigInvalid(`${field}.rds.route_config_name`, "route_config_name is empty");
  } else if (hcm.route_config) {
    inlineRoutes = compileRouteTable(hcm.route_config, `${field}.route_config`);
  } else {
    throw new ConfigInvalid(field, "the HTTP connection manager needs rds or route_config");
  }
  const loggers = compileAccessLogs(hcm.access_log, `${field}.access_log`);
  const accessLog = loggers.length > 0 ? { loggers } : undefined;
  const upgradeTypes = compileUpgrades(hcm.upgrade_configs, `${field}.upgrade_configs`);
  const maxHeaders = hcm.common_http_protocol_options?.max_headers_count?.value ?? DEFAULT_MAX_HEADERS;
  const tracing = hcm.tracing ? compileTracing(hcm.tracing, `${field}.tracing`) : undefined;
  return {
    statPrefix: hcm.stat_prefix || "http",
    inlineRoutes,
    rdsName,
    routes: inlineRoutes,
    generateRequestId: hcm.generate_request_id?.value ?? true,
    accessLog,
    maxHeadersCount: maxHeaders > 0 ? maxHeaders : DEFAULT_MAX_HEADERS,
    requestTimeoutMs: durationMs(hcm.request_timeout, `${field}.request_timeout`) ?? 0,
    idleTimeoutMs: durationMs(hcm.common_http_protocol_options?.idle_timeout, `${field}.common_http_protocol_options.idle_timeout`) ?? 3_600_000,
    filters: httpFilters,
    ...(upgradeTypes ? { upgradeTypes } : {}),
    ...(tracing ? { tracing } : {}),
  };
}

/** upgrade_configs -> the enabled Upgrade types, lower case; undefined when none. */
function compileUpgrades(list: HttpConnectionManager["upgrade_configs"], field: string): ReadonlySet<string> | undefined {
  if (!list?.length) return undefined;
  const types = new Set<string>();
  list.forEach((u, i) => {
    const type = typeof u?.upgrade_type === "string" ? u.upgrade_type.trim().toLowerCase() : "";
    if (!type) throw new ConfigInvalid(`${field}[${i}].upgrade_type`, 'upgrade_type is empty (Istio sets "websocket")');
    if ((u as { filters?: unknown[] }).filters?.length) throw new ConfigInvalid(`${field}[${i}].filters`, "a separate filter chain per upgrade type is not supported; remove filters (the HCM's filters run)");
    if (u.enabled?.value !== false) types.add(type);
  });
  return types.size > 0 ? types : undefined;
}

/** filter_chain_match.server_names: exact names or "*.suffix" wildcards, lower case. */
function compileServerNames(names: unknown, field: string): string[] | undefined {
  if (names === undefined || names === null) return undefined;
  if (!Array.isArray(names)) throw new ConfigInvalid(field, "server_names must be a list");
  const out = names.map((n, i) => {
    const name = typeof n === "string" ? n.trim().toLowerCase() : "";
    if (!name || (name.includes("*") && !(name.startsWith("*.") && name.lastIndexOf("*") === 0 && name.length > 2))) {
      throw new ConfigInvalid(`${field}[${i}]`, `"${String(n)}" is not a server name (use "api.example.com" or a leading wildcard "*.example.com")`);
    }
    return name;
  });
  return out.length > 0 ? out : undefined;
}

function compileApplicationProtocols(list: unknown, field: string): string[] | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list) || list.some((p) => typeof p !== "string" || p === "")) throw new ConfigInvalid(field, 'application_protocols must be a list of names such as "http/1.1", "h2c"');
  return list.length > 0 ? (list as string[]) : undefined;
}

function isTcpProxy(f: FilterChain["filters"][number] | undefined): boolean {
  return f?.name === TCP_PROXY_NAME || (f?.typed_config as { "@type"?: string } | undefined)?.["@type"] === TYPE.tcpProxy;
}

function isNetworkRbac(f: FilterChain["filters"][number] | undefined): boolean {
  const type = String((f?.typed_config as { "@type"?: string } | undefined)?.["@type"] ?? "");
  return f?.name === "envoy.filters.network.rbac" || type.includes(".network.rbac.");
}

function compileChain(fc: FilterChain, field: string): CompiledFilterChain {
  const port = fc.filter_chain_match?.destination_port?.value;
  const filters = fc.filters ?? [];
  const hcmFilter = filters.find((f) => f?.name === HCM_NAME || f?.typed_config?.["@type"] === TYPE.hcm);
  const transport = fc.filter_chain_match?.transport_protocol;
  if (transport !== undefined && transport !== "" && transport !== "tls" && transport !== "raw_buffer") {
    throw new ConfigInvalid(`${field}.filter_chain_match.transport_protocol`, `"${transport}" is not a transport protocol (use "tls" or "raw_buffer")`);
  }
  const tls = fc.transport_socket && !isRawBuffer(fc.transport_socket) ? compileDownstreamTls(fc.transport_socket, `${field}.transport_socket`) : undefined;
  if (tls && transport === "raw_buffer") throw new ConfigInvalid(`${field}.transport_socket`, 'a chain matching transport_protocol "raw_buffer" cannot terminate TLS');
  const match = fc.filter_chain_match;
  const serverNames = compileServerNames(match?.server_names, `${field}.filter_chain_match.server_names`);
  const applicationProtocols = compileApplicationProtocols(match?.application_protocols, `${field}.filter_chain_match.application_protocols`);
  const base = {
    name: fc.name || "-",
    destinationPort: port,
    transportProtocol: (transport || undefined) as CompiledFilterChain["transportProtocol"],
    tls,
    ...(serverNames ? { serverNames } : {}),
    ...(applicationProtocols ? { applicationProtocols } : {}),
  };
  const tcpIndex = filters.findIndex(isTcpProxy);
  // Network RBAC runs before a tcp_proxy. An authorization filter we would not run (before an
  // HTTP connection manager, whose requests the HTTP RBAC filter guards) is refused, never skipped.
  const rbacAt = filters.flatMap((f, i) => (isNetworkRbac(f) ? [i] : []));
  if (rbacAt.length > 0 && (tcpIndex < 0 || rbacAt.some((i) => i > tcpIndex))) {
    throw new ConfigInvalid(`${field}.filters[${rbacAt[0]}]`, "network RBAC is supported before a tcp_proxy only; put AuthorizationPolicy for HTTP in the connection manager's envoy.filters.http.rbac");
  }
  if (hcmFilter && tcpIndex >= 0) throw new ConfigInvalid(`${field}.filters`, "a chain ends in one terminal filter: http_connection_manager or tcp_proxy, not both");
  if (tcpIndex >= 0) {
    const tcpProxy = compileTcpProxy(filters[tcpIndex]!.typed_config as unknown as TcpProxy, `${field}.filters[${tcpIndex}].typed_config`);
    // Istio puts its istio.stats network filter before the tcp_proxy: the chain's metric overrides.
    const statsAt = filters.findIndex(isStatsFilter);
    if (statsAt >= 0) tcpProxy.stats = compileStatsConfig(filters[statsAt]!.typed_config as unknown as Record<string, unknown>, `${field}.filters[${statsAt}].typed_config`);
    if (rbacAt.length > 0) tcpProxy.rbac = rbacAt.map((i) => compileRbac(filters[i]!.typed_config, `${field}.filters[${i}].typed_config`, NETWORK_RBAC_TYPE_URL));
    return { ...base, hcm: undefined, tcpProxy, unsupportedReason: undefined };
  }
  if (!hcmFilter) {
    // No terminal filter we know: connections to this chain are closed and counted.
    return { ...base, hcm: undefined, unsupportedReason: `no HTTP connection manager or tcp_proxy (filters: ${filters.map((f) => f?.name).join(", ") || "none"})` };
  }
  const i = filters.indexOf(hcmFilter);
  return { ...base, hcm: compileHcm(hcmFilter.typed_config, `${field}.filters[${i}].typed_config`), unsupportedReason: undefined };
}

export function compileListener(l: Listener): CompiledListener | undefined {
  const field = `listener "${l?.name}"`;
  if (!l?.name) throw new ConfigInvalid("listener.name", "listener needs a name");
  if (!l.address) {
    if (l.api_listener) return undefined;
    throw new ConfigInvalid(`${field}.address`, "listener has no address (and no api_listener)");
  }
  const sa = l.address.socket_address;
  if (!sa?.address) throw new ConfigInvalid(`${field}.address.socket_address.address`, "address is empty");
  const port = Number(sa.port_value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigInvalid(`${field}.address.socket_address.port_value`, `${String(sa.port_value)} is not a port`);
  if (sa.protocol === "UDP") throw new ConfigInvalid(`${field}.address.socket_address.protocol`, "UDP listeners are not supported");
  if (!l.filter_chains?.length) throw new ConfigInvalid(`${field}.filter_chains`, "listener has no filter chains");
  const filterChains = l.filter_chains.map((fc, i) => compileChain(fc, `${field}.filter_chains[${i}]`));
  let inspectHttp = false;
  (l.listener_filters ?? []).forEach((lf, i) => {
    const type = lf?.typed_config?.["@type"];
    if (lf?.name === HTTP_INSPECTOR || type === TYPE.httpInspector) {
      inspectHttp = true;
      return;
    }
    const known = lf?.name === TLS_INSPECTOR || type === TYPE.tlsInspector;
    if (!known) throw new ConfigInvalid(`${field}.listener_filters[${i}]`, `listener filter "${String(lf?.name)}" is not supported by the Mizzen proxy (only tls_inspector and http_inspector)`);
  });
  if (!inspectHttp) {
    const i = filterChains.findIndex((fc) => fc.applicationProtocols?.some((p) => p === "http/1.1" || p === "h2c"));
    if (i >= 0) throw new ConfigInvalid(`${field}.filter_chains[${i}].filter_chain_match.application_protocols`, "matching http/1.1 or h2c needs the http_inspector listener filter; add it to listener_filters");
  }
  // Told apart by the first bytes: TLS chains need the ClientHello; Envoy's tls_inspector does the same.
  // Chains that also match server names (TLS passthrough) are picked per connection instead,
  // where the whole ClientHello is read.
  const inspectTls = filterChains.some((fc) => fc.tls !== undefined || (fc.transportProtocol !== undefined && fc.serverNames === undefined));
  const chainPerConnection = filterChains.some((fc) => fc.tcpProxy !== undefined || fc.serverNames !== undefined || fc.applicationProtocols !== undefined);
  const timeoutMs = durationMs(l.listener_filters_timeout, `${field}.listener_filters_timeout`) ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS;
  const bindToPort = l.bind_to_port?.value !== false;
  return {
    name: l.name,
    host: sa.address,
    port,
    inbound: l.traffic_direction === "INBOUND",
    filterChains,
    inspectTls,
    // A listener that is never bound must not take the bind key of a real one.
    bindKey: bindToPort ? `${sa.address}:${port}` : `virtual:${sa.address}:${port}`,
    ...(bindToPort ? {} : { bindToPort: false }),
    ...(l.use_original_dst?.value === true ? { useOriginalDst: true } : {}),
    ...(chainPerConnection ? { chainPerConnection: true } : {}),
    ...(inspectHttp ? { inspectHttp: true } : {}),
    listenerFiltersTimeoutMs: timeoutMs,
    continueOnListenerFiltersTimeout: l.continue_on_listener_filters_timeout === true,
  };
}

/** What a connection offers to filter chain matching beyond its port and transport. */
export interface ChainCriteria {
  /** TLS SNI, or for a CONNECT tunnel without SNI its host; lower case. */
  serverName?: string;
  /** "http/1.1" / "h2c" from http_inspector (or ALPN); undefined when not detected. */
  applicationProtocol?: string;
}

/** Callers that serve HTTP (and the TLS stage, which only needs the transport's TLS settings). */
const HTTP_CONNECTION: ChainCriteria = { applicationProtocol: "http/1.1" };

/** 0: the chain names no server; -1: it names others; else how specific its best match is. */
function serverNameScore(fc: CompiledFilterChain, name: string | undefined): number {
  const names = fc.serverNames;
  if (!names) return 0;
  if (name === undefined) return -1;
  let best = -1;
  for (const n of names) {
    if (n === name) return Number.MAX_SAFE_INTEGER;
    // "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com".
    if (n.startsWith("*.") && name.length > n.length - 1 && name.endsWith(n.slice(1))) best = Math.max(best, n.length);
  }
  return best;
}

function listsProtocol(fc: CompiledFilterChain, protocol: string | undefined): boolean {
  return protocol !== undefined && fc.applicationProtocols !== undefined && fc.applicationProtocols.includes(protocol);
}

/**
 * Picks the filter chain for a connection as Envoy does, narrowing step by step with no
 * fallback to a less specific step once a step found candidates: destination port (chains
 * naming it, else chains naming none), server name (exact, then the longest wildcard, then
 * chains naming none), transport protocol ("tls" / "raw_buffer", else chains naming none),
 * application protocol (chains listing it, else chains listing none). Allocation-free: the
 * HTTP handling calls it per request.
 */
export function selectFilterChain(l: CompiledListener, localPort: number, transport: "tls" | "raw_buffer" = "raw_buffer", criteria: ChainCriteria = HTTP_CONNECTION): CompiledFilterChain | undefined {
  const chains = l.filterChains;
  let wantPort: number | undefined;
  for (const fc of chains) if (fc.destinationPort === localPort) wantPort = localPort;
  let bestName = -1;
  for (const fc of chains) {
    if (fc.destinationPort === wantPort) bestName = Math.max(bestName, serverNameScore(fc, criteria.serverName));
  }
  if (bestName < 0) return undefined;
  let exactTransport = false;
  for (const fc of chains) {
    if (fc.destinationPort === wantPort && serverNameScore(fc, criteria.serverName) === bestName && fc.transportProtocol === transport) exactTransport = true;
  }
  const wantTransport = exactTransport ? transport : undefined;
  let fallback: CompiledFilterChain | undefined;
  for (const fc of chains) {
    if (fc.destinationPort !== wantPort || fc.transportProtocol !== wantTransport || serverNameScore(fc, criteria.serverName) !== bestName) continue;
    if (listsProtocol(fc, criteria.applicationProtocol)) return fc;
    if (!fc.applicationProtocols && !fallback) fallback = fc;
  }
  return fallback;
}

