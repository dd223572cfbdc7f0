// DestinationRule semantics: host, subsets (unique DNS-1123 names, labels) and the numeric
// ranges of traffic policies (connection pool, outlier detection, load balancer).
import { dns1123Label, duration, hostName, isObj, Issues, labelMap, list, obj, percent, port } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

export function validateDestinationRule(spec: Obj, out: Issues): void {
  if (typeof spec.host !== "string" || spec.host === "") {
    out.error(["spec", "host"], "host is required: the service this rule applies to (e.g. host: reviews)");
  } else {
    out.check(["spec", "host"], hostName(spec.host, true));
  }
  if (spec.trafficPolicy !== undefined) validateTrafficPolicy(obj(spec.trafficPolicy), ["spec", "trafficPolicy"], out);
  const seen = new Map<string, number>();
  list(spec.subsets).forEach((s, i) => {
    const subset = obj(s);
    const at: PathSegment[] = ["spec", "subsets", i];
    const name = subset.name;
    out.check([...at, "name"], dns1123Label(name, "subset name"));
    if (typeof name === "string") {
      const first = seen.get(name);
      if (first !== undefined) out.error([...at, "name"], `duplicate subset name "${name}" (already used by subsets[${first}]); subset names must be unique`);
      else seen.set(name, i);
    }
    if (subset.labels === undefined || (isObj(subset.labels) && Object.keys(subset.labels).length === 0)) {
      out.warn([...at, "labels"], `subset "${String(name)}" has no labels, so it selects every endpoint of the host; add labels such as version: v1`);
    } else {
      out.check([...at, "labels"], labelMap(subset.labels));
    }
    if (subset.trafficPolicy !== undefined) validateTrafficPolicy(obj(subset.trafficPolicy), [...at, "trafficPolicy"], out);
  });
  list(spec.exportTo).forEach((e, i) => {
    if (e !== "." && e !== "*") out.check(["spec", "exportTo", i], dns1123Label(e, "exportTo namespace"));
  });
}

function validateTrafficPolicy(p: Obj, at: PathSegment[], out: Issues): void {
  if (isObj(p.connectionPool)) validateConnectionPool(p.connectionPool, [...at, "connectionPool"], out);
  if (isObj(p.outlierDetection)) validateOutlier(p.outlierDetection, [...at, "outlierDetection"], out);
  if (isObj(p.loadBalancer)) validateLoadBalancer(p.loadBalancer, [...at, "loadBalancer"], out);
  list(p.portLevelSettings).forEach((s, i) => {
    const setting = obj(s);
    const sat: PathSegment[] = [...at, "portLevelSettings", i];
    const num = obj(setting.port).number;
    if (num === undefined) out.error([...sat, "port", "number"], "port.number is required in a port-level setting");
    else out.check([...sat, "port", "number"], port(num));
    if (isObj(setting.connectionPool)) validateConnectionPool(setting.connectionPool, [...sat, "connectionPool"], out);
    if (isObj(setting.outlierDetection)) validateOutlier(setting.outlierDetection, [...sat, "outlierDetection"], out);
    if (isObj(setting.loadBalancer)) validateLoadBalancer(setting.loadBalancer, [...sat, "loadBalancer"], out);
  });
}

function nonNegative(v: unknown, at: PathSegment[], out: Issues, what: string): void {
  if (typeof v === "number" && v < 0) out.error(at, `${what} must be 0 or more (got ${v})`);
}

function validateConnectionPool(cp: Obj, at: PathSegment[], out: Issues): void {
  const tcp = obj(cp.tcp);
  nonNegative(tcp.maxConnections, [...at, "tcp", "maxConnections"], out, "maxConnections");
  if (tcp.connectTimeout !== undefined) out.check([...at, "tcp", "connectTimeout"], duration(tcp.connectTimeout, "connectTimeout"));
  if (tcp.idleTimeout !== undefined) out.check([...at, "tcp", "idleTimeout"], duration(tcp.idleTimeout, "idleTimeout"));
  const http = obj(cp.http);
  for (const f of ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"]) {
    nonNegative(http[f], [...at, "http", f], out, f);
  }
  if (http.idleTimeout !== undefined) out.check([...at, "http", "idleTimeout"], duration(http.idleTimeout, "idleTimeout"));
}

function validateOutlier(od: Obj, at: PathSegment[], out: Issues): void {
  for (const f of ["consecutiveErrors", "consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveLocalOriginFailures"]) {
    nonNegative(od[f], [...at, f], out, f);
  }
  for (const f of ["interval", "baseEjectionTime"]) {
    if (od[f] !== undefined) out.check([...at, f], duration(od[f], f));
  }
  if (od.maxEjectionPercent !== undefined) out.check([...at, "maxEjectionPercent"], percent(od.maxEjectionPercent, "maxEjectionPercent"));
  if (od.minHealthPercent !== undefined) out.check([...at, "minHealthPercent"], percent(od.minHealthPercent, "minHealthPercent"));
}

function validateLoadBalancer(lb: Obj, at: PathSegment[], out: Issues): void {
  // "simple" vs "consistentHash" is a oneOf in the schema, which reports it.
  if (isObj(lb.consistentHash)) {
    const ch = lb.consistentHash;
    const keys = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"].filter((k) => ch[k] !== undefined);
    if (keys.length > 1) out.error([...at, "consistentHash"], `set only one hash key (found ${keys.join(" and ")})`);
    const cookie = ch.httpCookie;
    if (isObj(cookie)) {
      if (typeof cookie.name !== "string" || cookie.name === "") out.error([...at, "consistentHash", "httpCookie", "name"], "cookie name is required");
      if (cookie.ttl !== undefined && cookie.ttl !== "0s") out.check([...at, "consistentHash", "httpCookie", "ttl"], duration(cookie.ttl, "ttl"));
    }
  }
  if (lb.warmupDurationSecs !== undefined) out.check([...at, "warmupDurationSecs"], duration(lb.warmupDurationSecs, "warmupDurationSecs"));
}
