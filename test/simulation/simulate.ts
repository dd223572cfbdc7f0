// Istio-pilot-style simulation, the truthful way: config (YAML as a user writes it) goes through
// the real pipeline — registry, translators, the xDS wire encoding, the proxy's own state layer
// (ProxyState, fed LDS, CDS, RDS, EDS as the ADS client delivers them) — and a request is then
// matched by the proxy's own route selection on the resulting Snapshot. Nothing here matches
// routes itself, so a test can only pass if the proxy really would route that way.
// No sockets are opened.
import type { ConfigError, ConfigObject } from "../../src/api/types.ts";
import { formatConfigError } from "../../src/api/types.ts";
import { parseConfigText } from "../../src/api/index.ts";
import { buildRegistry } from "../../src/registry/build.ts";
import { DEFAULT_MESH_CONFIG, translate, type MeshConfig } from "../../src/translate/index.ts";
import { TYPE } from "../../src/xds/envoy-types.ts";
import type { HttpConnectionManagerAny, ProxyResources } from "../../src/xds/envoy-types.ts";
import type { ProxyNode } from "../../src/xds/node.ts";
import { decodeResource, encodeResource, resourceName } from "../../src/xds/protos.ts";
import { ProxyState } from "../../src/proxy/state/proxy-state.ts";
import { compileListener, selectFilterChain } from "../../src/proxy/state/compile-listener.ts";
import type { CompiledHcm, MatchInput, Snapshot } from "../../src/proxy/state/types.ts";
import { findRoute, pickCluster } from "../../src/proxy/http/request-handler.ts";
import { parseRequestTarget } from "../../src/proxy/http/request-target.ts";
import { REPLY } from "../../src/proxy/http/local-reply.ts";

export interface SimulationInput {
  /** YAML text (one or more documents), or ConfigObjects built with src/registry/fixtures.ts. */
  config: string | ConfigObject[];
  /** Every proxy connected to the control plane (their workloads become endpoints). */
  proxies: ProxyNode[];
  /** The proxy whose view is simulated: the node itself, or its name among `proxies`. */
  proxy: ProxyNode | string;
  mesh?: MeshConfig;
}

/** An HTTP request reaching a sidecar. */
export interface SimRequest {
  /** As sent to HTTP_PROXY ("http://reviews:9080/p?q=1"), or a path with a `host` header. */
  url: string;
  method?: string;
  /** Lower-case names, as Node delivers them. */
  headers?: Record<string, string>;
  /** The listener receiving the request; default "http_proxy" (the outbound explicit proxy). */
  listener?: string;
}

/** A call made by a proxyless gRPC client on channel "xds:///<target>". */
export interface SimGrpcCall {
  /** The channel target after "xds:///"; it names the API listener and is the authority. */
  target: string;
  /** "/package.Service/Method". */
  method: string;
  metadata?: Record<string, string>;
}

export interface SimOptions {
  /** Returns [0, 1); drives the weighted-cluster pick. Default Math.random. */
  random?: () => number;
}

export interface SimResult {
  listener: string | undefined;
  virtualHost: string | undefined;
  /** Route name ("-" when unnamed), undefined when no route matched. */
  routeName: string | undefined;
  /** After the weighted pick; set even when the cluster does not exist (NC). */
  cluster: string | undefined;
  /**
   * undefined when the request would be forwarded upstream; else the proxy's own reply status
   * (404 NR, 503 NC, a direct response or redirect); 0 when no listener takes the request.
   */
  status: number | undefined;
  /** Envoy response flag of a local reply: "NR" (no route), "NC" (no cluster). */
  flag: string | undefined;
  details: string | undefined;
  /** "host:port" of every endpoint of the picked cluster. */
  endpoints: string[];
}

export interface Simulation {
  /** The proxy's Snapshot after LDS, CDS, RDS and EDS were applied. */
  snapshot: Snapshot;
  /** What the translators produced (before the wire round trip). */
  resources: ProxyResources;
  /** Translator warnings (config kept but failing traffic) and parse warnings. */
  warnings: ConfigError[];
  request(req: SimRequest, opts?: SimOptions): SimResult;
  grpcCall(call: SimGrpcCall, opts?: SimOptions): SimResult;
}

function configObjects(config: string | ConfigObject[], warnings: ConfigError[]): ConfigObject[] {
  if (typeof config !== "string") return config;
  const { objects, errors } = parseConfigText(config, "simulation.yaml");
  const fatal = errors.filter((e) => e.severity === "error");
  if (fatal.length) throw new Error(`simulation config has errors:\n${fatal.map(formatConfigError).join("\n")}`);
  warnings.push(...errors);
  return objects;
}

/** Encodes to the protobuf wire form and decodes back, as the ADS server and client do. */
function overTheWire<R extends object>(typeUrl: string, resources: R[]): { name: string; resource: unknown }[] {
  return resources.map((r) => {
    const resource = decodeResource(encodeResource(typeUrl, r));
    return { name: resourceName(typeUrl, resource), resource };
  });
}

function deliver(state: ProxyState, resources: ProxyResources): void {
  const order: [string, object[]][] = [
    [TYPE.listener, resources.listeners],
    [TYPE.cluster, resources.clusters],
    [TYPE.route, resources.routes],
    [TYPE.endpoint, resources.endpoints],
  ];
  for (const [typeUrl, list] of order) {
    const nack = state.handleResponse(typeUrl, overTheWire(typeUrl, list), "sim-1");
    if (nack !== null) throw new Error(`the proxy rejected ${typeUrl.slice(typeUrl.lastIndexOf(".") + 1)}: ${nack}`);
  }
}

const EMPTY: SimResult = { listener: undefined, virtualHost: undefined, routeName: undefined, cluster: undefined, endpoints: [], status: undefined, flag: undefined, details: undefined };

function noListener(name: string): SimResult {
  return { ...EMPTY, status: 0, details: `no listener "${name}" (connection refused)` };
}

/** The request handler's decisions, minus the sockets: route, weighted pick, cluster lookup. */
function route(snap: Snapshot, listener: string, hcm: CompiledHcm | undefined, input: MatchInput, opts: SimOptions | undefined): SimResult {
  const empty: SimResult = { ...EMPTY, listener };
  // The proxy closes such connections without an HTTP answer.
  if (!hcm) return { ...empty, status: 0, details: "no HTTP filter chain" };
  const virtualHost = hcm.routes?.findVirtualHost(input.authority)?.name;
  const { route: r, configured } = findRoute(hcm, input);
  if (!r) {
    const reply = configured ? REPLY.noRoute : REPLY.noRouteConfig;
    return { ...empty, virtualHost, status: reply.status, flag: reply.flag, details: reply.details };
  }
  const base = { ...empty, virtualHost, routeName: r.name };
  const action = r.action;
  if (action.kind === "direct") return { ...base, status: action.status, details: "direct_response" };
  if (action.kind === "redirect") return { ...base, status: action.status, details: "redirect" };
  const cluster = action.clusters[pickCluster(action, opts?.random)].cluster;
  const compiled = snap.clusters.get(cluster);
  if (!compiled) return { ...base, cluster, status: REPLY.noCluster.status, flag: REPLY.noCluster.flag, details: REPLY.noCluster.details };
  return { ...base, cluster, endpoints: compiled.endpoints.map((e) => e.key) };
}

/** Runs config through the whole pipeline into `proxy`'s state. Throws on bad config or a NACK. */
export function simulate(input: SimulationInput): Simulation {
  const warnings: ConfigError[] = [];
  const objects = configObjects(input.config, warnings);
  const node = typeof input.proxy === "string" ? input.proxies.find((p) => p.name === input.proxy) : input.proxy;
  if (!node) throw new Error(`no proxy named "${String(input.proxy)}" among ${input.proxies.map((p) => p.name).join(", ")}`);
  const registry = buildRegistry(objects, input.proxies);
  const resources = translate({ objects, registry, proxy: node, mesh: input.mesh ?? DEFAULT_MESH_CONFIG }, warnings);
  const state = new ProxyState();
  deliver(state, resources);
  const snapshot = state.current;
  if (snapshot.missingRoutes.length || snapshot.missingEndpoints.length) throw new Error(`incomplete snapshot: ${state.missing().join(", ")}`);

  return {
    snapshot,
    resources,
    warnings,
    request(req, opts) {
      const name = req.listener ?? "http_proxy";
      const listener = snapshot.listeners.get(name);
      if (!listener) return noListener(name);
      const headers = { ...req.headers };
      const target = parseRequestTarget(req.url, headers.host);
      if (!target) throw new Error(`"${req.url}" is not a request target the proxy accepts`);
      if (headers.host === undefined) headers.host = target.authority;
      const match: MatchInput = { method: req.method ?? "GET", authority: target.authority, path: target.path, query: target.query, headers, queryParams: undefined };
      // A connection accepted by this listener arrives on the listener's own port.
      return route(snapshot, name, selectFilterChain(listener, listener.port)?.hcm, match, opts);
    },
    grpcCall(call, opts) {
      // The proxy does not serve API listeners (grpc-js does); their HCM is compiled here with
      // the proxy's own compiler and linked to the RDS table the proxy state holds.
      const raw = snapshot.raw.listeners.get(call.target)?.resource;
      const hcmAny = raw?.api_listener?.api_listener as HttpConnectionManagerAny | undefined;
      if (!raw || !hcmAny) return noListener(call.target);
      const compiled = compileListener({
        name: raw.name,
        address: { socket_address: { address: "0.0.0.0", port_value: 0 } },
        filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcmAny }] }],
      });
      const hcm = compiled?.filterChains[0].hcm;
      const linked = hcm && { ...hcm, routes: hcm.rdsName ? snapshot.routeTables.get(hcm.rdsName) : hcm.routes };
      const headers = { ...call.metadata, "content-type": "application/grpc" };
      const match: MatchInput = { method: "POST", authority: call.target, path: call.method, query: "", headers, queryParams: undefined };
      return route(snapshot, call.target, linked, match, opts);
    },
  };
}

/** A deterministic [0, 1) sequence (LCG) for weighted-pick tests. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
