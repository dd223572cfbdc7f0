// Listener -> CompiledListener. The listener decides which filter chain serves a connection
// from the Listener itself (filter_chain_match), never from Istio concepts, so transparent
// capture can later reuse this as is. Listeners without an address (proxyless gRPC's
// api_listener) are not served by a sidecar and compile to undefined.
import type { FilterChain, HttpConnectionManager, Listener } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import type { CompiledFilterChain, CompiledHcm, CompiledListener } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";
import { compileRouteTable } from "./compile-route-table.ts";
import { addHcmFilter, type HcmFilters } from "../http/filters/http-filters.ts";
import { compileAccessLogs } from "../http/access-log.ts";
import { compileDownstreamTls, isRawBuffer } from "../tls/compile-transport.ts";

const ROUTER_NAME = "envoy.filters.http.router";
const HCM_NAME = "envoy.filters.network.http_connection_manager";
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
  const maxHeaders = hcm.common_http_protocol_options?.max_headers_count?.value ?? DEFAULT_MAX_HEADERS;
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
  };
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
  const base = { name: fc.name || "-", destinationPort: port, transportProtocol: (transport || undefined) as CompiledFilterChain["transportProtocol"], tls };
  if (!hcmFilter) {
    // A TCP-only chain (e.g. tcp_proxy): not served yet; connections to it are closed and counted.
    return { ...base, hcm: undefined, unsupportedReason: `no HTTP connection manager (filters: ${filters.map((f) => f?.name).join(", ") || "none"})` };
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
  (l.listener_filters ?? []).forEach((lf, i) => {
    const known = lf?.name === "envoy.filters.listener.tls_inspector" || lf?.typed_config?.["@type"] === TYPE.tlsInspector;
    if (!known) throw new ConfigInvalid(`${field}.listener_filters[${i}]`, `listener filter "${String(lf?.name)}" is not supported by the Mizzen proxy (only tls_inspector)`);
  });
  // Told apart by the first bytes: TLS chains need the ClientHello; Envoy's tls_inspector does the same.
  const inspectTls = filterChains.some((fc) => fc.tls !== undefined || fc.transportProtocol !== undefined);
  return {
    name: l.name,
    host: sa.address,
    port,
    inbound: l.traffic_direction === "INBOUND",
    filterChains,
    inspectTls,
    bindKey: `${sa.address}:${port}`,
  };
}

/**
 * Picks the filter chain for a connection as Envoy does: the destination port narrows first
 * (chains naming this port, else chains naming none), then the transport protocol ("tls" /
 * "raw_buffer"; a chain without one accepts both). No fallback across the port step: when the
 * port's chains all want another transport, the connection has no chain.
 */
export function selectFilterChain(l: CompiledListener, localPort: number, transport: "tls" | "raw_buffer" = "raw_buffer"): CompiledFilterChain | undefined {
  const hasPortChain = l.filterChains.some((fc) => fc.destinationPort === localPort);
  const wantPort = hasPortChain ? localPort : undefined;
  let any: CompiledFilterChain | undefined;
  for (const fc of l.filterChains) {
    if (fc.destinationPort !== wantPort) continue;
    if (fc.transportProtocol === transport) return fc;
    if (fc.transportProtocol === undefined && !any) any = fc;
  }
  return any;
}
