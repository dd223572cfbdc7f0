// VirtualService HTTP routes -> Envoy routes for one virtual host (service + port).
// Shared by the sidecar's "http_proxy" route config and proxyless gRPC route configs.
import type { ConfigObject } from "../api/types.ts";
import type { Service } from "../registry/types.ts";
import type { HashPolicy, HeaderValueOption, RequestMirrorPolicy, Route, RouteAction, RetryPolicy, WeightedCluster } from "../xds/envoy-types.ts";
import { arr, labelsMatch, num, obj, objs, str, strMap, strs, type Obj } from "../registry/read-spec.ts";
import { findDestinationRule, subsetsOf } from "./destination-rules.ts";
import { msToDuration, parseDurationMs } from "./duration.ts";
import { outboundClusterName, resolveHost, serviceVisible } from "./hosts.ts";
import { warnAbout, type ViewInput, type WarningSink } from "./input.ts";
import type { RouteProxyView } from "./routes.ts";
import { istioConfigPath, istioMetadata } from "./metadata.ts";
import { defaultRetryPolicy, retryPolicy } from "./retries.ts";
import { routeMatch } from "./route-match.ts";
import { applyRouteFilters } from "./route-filters.ts";
import { destinationConsistentHash, hashPolicyOf, serviceConsistentHash } from "./consistent-hash.ts";

export interface VirtualHostContext {
  input: ViewInput<RouteProxyView>;
  service: Service;
  port: number;
  grpc: boolean;
  warnings?: WarningSink;
}

const NO_TIMEOUT = { seconds: 0 };

/** A service without a VirtualService: everything to its port's cluster, Istio's defaults. */
export function defaultRoute(ctx: VirtualHostContext): Route {
  const { input } = ctx;
  // Istio: the service's DestinationRule consistentHash (port-level first) hashes its default route.
  const hash = ctx.grpc ? undefined : hashPolicyOf(serviceConsistentHash(findDestinationRule(input.objects, input.proxy.namespace, ctx.service, input.mesh), ctx.port));
  return {
    name: "default",
    match: { prefix: "/" },
    route: {
      cluster: outboundClusterName(ctx.port, "", ctx.service.hostname),
      timeout: NO_TIMEOUT,
      retry_policy: defaultRetryPolicy(),
      ...(ctx.grpc ? { max_stream_duration: { max_stream_duration: NO_TIMEOUT } } : {}),
      ...(hash ? { hash_policy: [hash] } : {}),
    },
  };
}

/** The hash_policy entry a destination's DestinationRule consistentHash asks for (none for proxyless gRPC). */
function destinationHashPolicy(ctx: VirtualHostContext, vs: ConfigObject, dest: Obj): HashPolicy | undefined {
  const rawHost = str(dest.host);
  if (ctx.grpc || !rawHost) return undefined;
  const { input } = ctx;
  const svc = input.registry.services.get(resolveHost(rawHost, vs.metadata.namespace, input.mesh.domainSuffix));
  if (!svc || !serviceVisible(svc, input.proxy.namespace)) return undefined;
  const rule = findDestinationRule(input.objects, input.proxy.namespace, svc, input.mesh);
  return hashPolicyOf(destinationConsistentHash(rule, str(dest.subset) ?? "", num(obj(dest.port)?.number)));
}

/** Istio's retry policy for a consistent-hash route: retries stay on the hashed host (no previous_hosts). */
function withoutHostPredicate(p: RetryPolicy): RetryPolicy {
  const { retry_host_predicate: _drop, ...rest } = p;
  return rest;
}

/** Destination -> cluster name; warns when the cluster will not exist (the proxy returns 503 NC). */
function destinationCluster(ctx: VirtualHostContext, vs: ConfigObject, field: string, dest: Obj): string | undefined {
  const rawHost = str(dest.host);
  if (!rawHost) return undefined;
  const { input } = ctx;
  const host = resolveHost(rawHost, vs.metadata.namespace, input.mesh.domainSuffix);
  const svc = input.registry.services.get(host);
  const visible = svc && serviceVisible(svc, input.proxy.namespace) ? svc : undefined;
  const port = num(obj(dest.port)?.number) ?? (visible?.ports.length === 1 ? visible.ports[0].number : ctx.port);
  const subset = str(dest.subset) ?? "";
  if (!visible) {
    warnAbout(ctx.warnings, vs, `${field}.host`, `destination host "${host}" is not a service visible to namespace ${input.proxy.namespace}; requests routed there get 503 (NC). Declare it with a Service or ServiceEntry.`);
  } else if (!visible.ports.some((p) => p.number === port)) {
    warnAbout(ctx.warnings, vs, `${field}.port`, `service "${host}" has no port ${port}; requests routed there get 503 (NC). Use one of: ${visible.ports.map((p) => p.number).join(", ")}.`);
  } else if (subset) {
    const rule = findDestinationRule(input.objects, input.proxy.namespace, visible, input.mesh);
    if (!rule || !subsetsOf(rule.rule).some((s) => s.name === subset)) {
      warnAbout(ctx.warnings, vs, `${field}.subset`, `subset "${subset}" of "${host}" is not defined by any DestinationRule that applies; requests routed there get 503 (NC). Add the subset to a DestinationRule for this host.`);
    }
  }
  return outboundClusterName(port, subset, host);
}

function headerOptions(set: Obj | undefined, add: Obj | undefined): HeaderValueOption[] {
  const out: HeaderValueOption[] = [];
  for (const [key, value] of Object.entries(strMap(set)).sort()) out.push({ header: { key, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });
  for (const [key, value] of Object.entries(strMap(add)).sort()) out.push({ header: { key, value }, append_action: "APPEND_IF_EXISTS_OR_ADD" });
  return out;
}

/** Apply Istio Headers {request, response}{set, add, remove} to a route. */
function applyHeaders(r: Route, headers: Obj | undefined): void {
  const req = obj(headers?.request), resp = obj(headers?.response);
  const reqAdd = headerOptions(obj(req?.set), obj(req?.add));
  const respAdd = headerOptions(obj(resp?.set), obj(resp?.add));
  if (reqAdd.length) r.request_headers_to_add = [...(r.request_headers_to_add ?? []), ...reqAdd];
  if (respAdd.length) r.response_headers_to_add = [...(r.response_headers_to_add ?? []), ...respAdd];
  const reqRemove = strs(req?.remove), respRemove = strs(resp?.remove);
  if (reqRemove.length) r.request_headers_to_remove = [...(r.request_headers_to_remove ?? []), ...reqRemove];
  if (respRemove.length) r.response_headers_to_remove = [...(r.response_headers_to_remove ?? []), ...respRemove];
}

const REDIRECT_CODES: Record<number, NonNullable<NonNullable<Route["redirect"]>["response_code"]>> = {
  301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT",
};

function routeAction(ctx: VirtualHostContext, vs: ConfigObject, i: number, rule: Obj, r: Route): RouteAction | undefined {
  const dests = objs(rule.route);
  const weighted: WeightedCluster[] = [];
  const hashPolicies: HashPolicy[] = [];
  dests.forEach((d, j) => {
    const dest = obj(d.destination);
    const name = dest && destinationCluster(ctx, vs, `spec.http[${i}].route[${j}].destination`, dest);
    if (!name) return;
    const weight = num(d.weight) ?? (dests.length === 1 ? 100 : 0);
    if (weight <= 0) return; // Istio drops zero-weight destinations
    const wc: WeightedCluster = { name, weight: { value: weight } };
    const h = obj(obj(d.headers)?.request);
    const add = headerOptions(obj(h?.set), obj(h?.add));
    if (add.length) wc.request_headers_to_add = add;
    weighted.push(wc);
    const hash = destinationHashPolicy(ctx, vs, dest);
    if (hash) hashPolicies.push(hash);
  });
  if (weighted.length === 0) return undefined;
  const action: RouteAction = {};
  if (weighted.length === 1) {
    action.cluster = weighted[0].name;
    if (weighted[0].request_headers_to_add) r.request_headers_to_add = weighted[0].request_headers_to_add;
  } else {
    action.weighted_clusters = { clusters: weighted };
  }
  const timeoutMs = parseDurationMs(rule.timeout);
  action.timeout = timeoutMs === undefined ? NO_TIMEOUT : msToDuration(timeoutMs);
  if (ctx.grpc) action.max_stream_duration = { max_stream_duration: action.timeout };
  const retries = retryPolicy(obj(rule.retries));
  if (retries) action.retry_policy = dests.length === 1 && hashPolicies.length > 0 ? withoutHostPredicate(retries) : retries;
  if (hashPolicies.length > 0) action.hash_policy = hashPolicies;
  const rewrite = obj(rule.rewrite);
  const uri = str(rewrite?.uri), authority = str(rewrite?.authority);
  if (uri !== undefined && uri !== "") action.prefix_rewrite = uri;
  const regexRewrite = obj(rewrite?.uriRegexRewrite);
  if (regexRewrite && str(regexRewrite.match) !== undefined) action.regex_rewrite = { pattern: { regex: str(regexRewrite.match)! }, substitution: str(regexRewrite.rewrite) ?? "" };
  if (authority) action.host_rewrite_literal = authority;
  const mirrors = mirrorPolicies(ctx, vs, i, rule);
  if (mirrors.length) action.request_mirror_policies = mirrors;
  return action;
}

type MirrorFraction = NonNullable<RequestMirrorPolicy["runtime_fraction"]>;
const MIRROR_ALL: MirrorFraction = { default_value: { numerator: 100, denominator: "HUNDRED" } };

/**
 * Istio's mirror share: a `percentage` (0-100, a double) becomes parts per million; the
 * deprecated integer `mirrorPercent` parts per hundred; neither means every request. An
 * explicit 0 (or less) means no mirroring at all: undefined.
 */
function mirrorFraction(percentage: Obj | undefined, legacyPercent: unknown): MirrorFraction | undefined {
  if (percentage) {
    const value = num(percentage.value) ?? 0;
    if (value <= 0) return undefined;
    return { default_value: { numerator: Math.round(Math.min(100, value) * 10_000), denominator: "MILLION" } };
  }
  const legacy = num(legacyPercent) ?? num(obj(legacyPercent)?.value);
  if (legacy !== undefined) return legacy > 0 ? { default_value: { numerator: Math.min(100, Math.floor(legacy)), denominator: "HUNDRED" } } : undefined;
  return MIRROR_ALL;
}

/** `mirror` (+ `mirrorPercentage`) first, then each of `mirrors`, as Istio orders them. */
function mirrorPolicies(ctx: VirtualHostContext, vs: ConfigObject, i: number, rule: Obj): RequestMirrorPolicy[] {
  const out: RequestMirrorPolicy[] = [];
  const add = (dest: Obj, field: string, fraction: MirrorFraction | undefined): void => {
    if (!fraction) return;
    const cluster = destinationCluster(ctx, vs, field, dest);
    if (cluster) out.push({ cluster, runtime_fraction: fraction, trace_sampled: { value: false } });
  };
  const single = obj(rule.mirror);
  if (single) add(single, `spec.http[${i}].mirror`, mirrorFraction(obj(rule.mirrorPercentage), rule.mirrorPercent));
  objs(rule.mirrors).forEach((m, j) => {
    const dest = obj(m.destination);
    if (dest) add(dest, `spec.http[${i}].mirrors[${j}].destination`, mirrorFraction(obj(m.percentage), undefined));
  });
  return out;
}

/**
 * Every label key any VirtualService's `sourceLabels` names. matchApplies only looks up these
 * keys in a proxy's labels, so a proxy's other labels cannot change its routes.
 */
export function sourceLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) {
    if (o.kind !== "VirtualService") continue;
    for (const rule of objs(o.spec.http)) {
      for (const m of objs(rule.match)) for (const k of Object.keys(obj(m.sourceLabels) ?? {})) keys.add(k);
    }
  }
  return keys;
}

/**
 * Does a match entry apply to this proxy and port? `port` must be the virtual host's port.
 * Then, as Istio's sourceMatchHTTP: a match naming `gateways` applies when "mesh" is among
 * them (its sourceLabels and sourceNamespace are then not looked at); otherwise the proxy's
 * labels must include `sourceLabels` and its namespace equal `sourceNamespace`.
 */
function matchApplies(ctx: VirtualHostContext, m: Obj): boolean {
  const port = num(m.port);
  if (port !== undefined && port !== 0 && port !== ctx.port) return false;
  const gateways = strs(m.gateways);
  if (gateways.length) return gateways.includes("mesh");
  const src = obj(m.sourceLabels);
  if (src && !labelsMatch(strMap(src), ctx.input.proxy.labels)) return false;
  const srcNs = str(m.sourceNamespace);
  if (srcNs && srcNs !== ctx.input.proxy.namespace) return false;
  return true;
}

function buildOne(ctx: VirtualHostContext, vs: ConfigObject, i: number, rule: Obj, match: Obj | undefined): Route | undefined {
  const ruleName = str(rule.name);
  const matchName = match ? str(match.name) : undefined;
  const name = ruleName && matchName ? `${ruleName}.${matchName}` : ruleName ?? matchName;
  const r: Route = {
    ...(name ? { name } : {}),
    match: routeMatch(match),
    metadata: istioMetadata({ config: istioConfigPath("VirtualService", vs.metadata.namespace, vs.metadata.name) }),
  };
  const redirect = obj(rule.redirect), direct = obj(rule.directResponse);
  if (ctx.grpc && (redirect || direct)) {
    warnAbout(ctx.warnings, vs, `spec.http[${i}]`, "redirect and directResponse are not supported by proxyless gRPC clients; the route is left out for them");
    return undefined;
  }
  if (ctx.grpc && r.match.query_parameters) {
    warnAbout(ctx.warnings, vs, `spec.http[${i}].match`, "queryParams cannot match gRPC requests; the match is left out for proxyless gRPC clients");
    return undefined;
  }
  if (redirect) {
    const code = num(redirect.redirectCode) ?? 301;
    // derivePort: FROM_REQUEST_PORT is the port this route table serves (Istio does the same,
    // as Envoy cannot read it from the request); FROM_PROTOCOL_DEFAULT is the scheme's default
    // port, which the proxy leaves out of the Location.
    const derive = str(redirect.derivePort);
    const scheme = str(redirect.scheme);
    const port = num(redirect.port) ?? (derive === "FROM_REQUEST_PORT" && ctx.port ? ctx.port : derive === "FROM_PROTOCOL_DEFAULT" ? (scheme === "https" ? 443 : 80) : undefined);
    r.redirect = {
      ...(str(redirect.uri) ? { path_redirect: str(redirect.uri) } : {}),
      ...(str(redirect.authority) ? { host_redirect: str(redirect.authority) } : {}),
      ...(port !== undefined ? { port_redirect: port } : {}),
      ...(str(redirect.scheme) ? { scheme_redirect: str(redirect.scheme) } : {}),
      response_code: REDIRECT_CODES[code] ?? "MOVED_PERMANENTLY",
    };
  } else if (direct) {
    const body = obj(direct.body);
    const text = str(body?.string) ?? (str(body?.bytes) !== undefined ? Buffer.from(str(body?.bytes) ?? "", "base64").toString("utf8") : undefined);
    r.direct_response = { status: num(direct.status) ?? 200, ...(text !== undefined ? { body: { inline_string: text } } : {}) };
  } else {
    const action = routeAction(ctx, vs, i, rule, r);
    if (!action) return undefined;
    r.route = action;
  }
  applyHeaders(r, obj(rule.headers));
  applyRouteFilters(r, rule, vs, `spec.http[${i}]`, ctx.grpc, ctx.warnings);
  return r;
}

/** Routes for one virtual host from one VirtualService, in order (first match wins). */
export function routesFromVirtualService(ctx: VirtualHostContext, vs: ConfigObject): Route[] {
  const out: Route[] = [];
  arr(vs.spec.http).forEach((raw, i) => {
    const rule = obj(raw);
    if (!rule) return;
    const matches = objs(rule.match);
    if (matches.length === 0) {
      const r = buildOne(ctx, vs, i, rule, undefined);
      if (r) out.push(r);
      return;
    }
    for (const m of matches) {
      if (!matchApplies(ctx, m)) continue;
      const r = buildOne(ctx, vs, i, rule, m);
      if (r) out.push(r);
    }
  });
  return out;
}
