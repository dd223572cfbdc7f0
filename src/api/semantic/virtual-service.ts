// VirtualService semantics, after Istio's validating webhook: hosts, route one-of rules,
// destinations and weights, durations, fault percentages, RE2 regexes in matches.
import { duration, hostName, isObj, Issues, list, obj, percent, port, str, dns1123Label } from "./checks.ts";
import type { Obj } from "./checks.ts";
import { re2Error } from "./re2.ts";
import type { PathSegment } from "../yaml.ts";

export function validateVirtualService(spec: Obj, out: Issues): void {
  const gateways = list(spec.gateways);
  const appliesToMesh = gateways.length === 0 || gateways.includes("mesh");
  const hosts = list(spec.hosts);
  if (hosts.length === 0) {
    out.error(["spec", "hosts"], 'at least one host is required; list the service names it applies to (e.g. hosts: ["reviews"])');
  }
  hosts.forEach((h, i) => {
    if (h === "*" && appliesToMesh) {
      out.error(["spec", "hosts", i], 'wildcard host "*" is not allowed for a VirtualService bound to the mesh; name the hosts, or bind it to a gateway only');
    } else {
      out.check(["spec", "hosts", i], typeof h === "string" && (h === "*" || isIPish(h)) ? null : hostName(h, true));
    }
  });
  list(spec.exportTo).forEach((e, i) => out.check(["spec", "exportTo", i], exportTo(e)));
  const http = list(spec.http);
  const tcp = list(spec.tcp);
  const tls = list(spec.tls);
  if (http.length + tcp.length + tls.length === 0) {
    out.error(["spec"], "has no http, tcp or tls routes; add at least one (e.g. http: [{route: [{destination: {host: reviews}}]}])");
  }
  http.forEach((r, i) => validateHttpRoute(obj(r), ["spec", "http", i], out));
  tcp.forEach((r, i) => {
    const route = obj(r);
    list(route.match).forEach((m, j) => portIfSet(obj(m).port, ["spec", "tcp", i, "match", j, "port"], out));
    validateDestinations(route.route, ["spec", "tcp", i, "route"], out, true);
  });
  tls.forEach((r, i) => {
    const route = obj(r);
    const matches = list(route.match);
    if (matches.length === 0) out.error(["spec", "tls", i, "match"], "a TLS route needs at least one match with sniHosts");
    matches.forEach((m, j) => {
      const sni = list(obj(m).sniHosts);
      if (sni.length === 0) out.error(["spec", "tls", i, "match", j, "sniHosts"], "sniHosts is required in a TLS match");
      sni.forEach((h, k) => out.check(["spec", "tls", i, "match", j, "sniHosts", k], hostName(h, true)));
    });
    validateDestinations(route.route, ["spec", "tls", i, "route"], out, true);
  });
}

function isIPish(h: string): boolean {
  return /^[0-9.]+$/.test(h) || h.includes(":");
}

function exportTo(e: unknown): string | null {
  if (e === "." || e === "*") return null;
  return dns1123Label(e, "exportTo namespace");
}

function validateHttpRoute(r: Obj, at: PathSegment[], out: Issues): void {
  const has = (k: string) => r[k] !== undefined && r[k] !== null && !(Array.isArray(r[k]) && (r[k] as unknown[]).length === 0);
  const actions = ["route", "redirect", "directResponse", "delegate"].filter(has);
  if (actions.length === 0) {
    out.error(at, "needs one of route, redirect, directResponse or delegate; add a route with a destination");
  } else if (actions.length > 1) {
    out.error([...at, actions[1]!], `cannot be combined with ${actions[0]}; an HTTP route takes only one of route, redirect, directResponse or delegate`);
  }
  list(r.match).forEach((m, j) => validateHttpMatch(obj(m), [...at, "match", j], out));
  if (has("route")) validateDestinations(r.route, [...at, "route"], out, false);
  if (r.timeout !== undefined) out.check([...at, "timeout"], duration(r.timeout, "timeout"));
  if (isObj(r.retries)) {
    const retries = r.retries;
    if (typeof retries.attempts === "number" && retries.attempts < 0) out.error([...at, "retries", "attempts"], `attempts must be 0 or more (got ${retries.attempts})`);
    if (retries.perTryTimeout !== undefined) out.check([...at, "retries", "perTryTimeout"], duration(retries.perTryTimeout, "perTryTimeout"));
  }
  if (isObj(r.fault)) validateFault(r.fault, [...at, "fault"], out);
  if (isObj(r.mirrorPercentage)) out.check([...at, "mirrorPercentage", "value"], percent(r.mirrorPercentage.value, "mirrorPercentage.value"));
  if (isObj(r.mirror)) validateDestination(r.mirror, [...at, "mirror"], out);
  list(r.mirrors).forEach((m, i) => {
    validateDestination(obj(obj(m).destination), [...at, "mirrors", i, "destination"], out);
    const pct = obj(m).percentage;
    if (isObj(pct)) out.check([...at, "mirrors", i, "percentage", "value"], percent(pct.value, "percentage.value"));
  });
  if (isObj(r.redirect)) {
    const red = r.redirect;
    if (![red.uri, red.authority, red.scheme, red.port, red.derivePort].some((v) => v !== undefined && v !== "")) {
      out.error([...at, "redirect"], "must set at least one of uri, authority, scheme or port");
    }
    const code = red.redirectCode;
    if (code !== undefined && (typeof code !== "number" || code < 300 || code > 399)) out.error([...at, "redirect", "redirectCode"], `redirectCode must be a 3xx status such as 301 or 302 (got ${JSON.stringify(code)})`);
  }
  if (isObj(r.directResponse)) {
    const s = r.directResponse.status;
    if (typeof s !== "number" || s < 200 || s > 599) out.error([...at, "directResponse", "status"], `status must be an HTTP status from 200 to 599 (got ${JSON.stringify(s) ?? "nothing"})`);
  }
  if (isObj(r.rewrite) && r.rewrite.uri !== undefined && r.rewrite.uriRegexRewrite !== undefined) {
    out.error([...at, "rewrite"], "set only one of uri and uriRegexRewrite");
  }
  if (isObj(r.rewrite) && isObj(r.rewrite.uriRegexRewrite)) out.check([...at, "rewrite", "uriRegexRewrite", "match"], re2Error(r.rewrite.uriRegexRewrite.match));
  if (isObj(r.corsPolicy)) {
    list(r.corsPolicy.allowOrigins).forEach((o, i) => {
      if (isObj(o) && o.regex !== undefined) out.check([...at, "corsPolicy", "allowOrigins", i, "regex"], re2Error(o.regex));
    });
    if (r.corsPolicy.maxAge !== undefined) out.check([...at, "corsPolicy", "maxAge"], duration(r.corsPolicy.maxAge, "maxAge"));
  }
}

function validateHttpMatch(m: Obj, at: PathSegment[], out: Issues): void {
  for (const field of ["uri", "scheme", "method", "authority"]) {
    if (m[field] !== undefined) validateStringMatch(m[field], [...at, field], out);
  }
  for (const field of ["headers", "withoutHeaders", "queryParams"]) {
    const map = m[field];
    if (!isObj(map)) continue;
    for (const [name, sm] of Object.entries(map)) {
      if (name === "") out.error([...at, field], "a header or query parameter name must not be empty");
      validateStringMatch(sm, [...at, field, name], out);
    }
  }
  portIfSet(m.port, [...at, "port"], out);
}

function validateStringMatch(v: unknown, at: PathSegment[], out: Issues): void {
  if (!isObj(v)) return;
  if (v.regex !== undefined) out.check([...at, "regex"], re2Error(v.regex));
}

function portIfSet(v: unknown, at: PathSegment[], out: Issues): void {
  if (v !== undefined) out.check(at, port(v));
}

/** Destinations of an HTTP/TCP/TLS route, with Istio's weight rules. */
function validateDestinations(routes: unknown, at: PathSegment[], out: Issues, required: boolean): void {
  const items = list(routes);
  if (items.length === 0) {
    if (required) out.error(at, "at least one route destination is required");
    return;
  }
  let total = 0;
  items.forEach((d, i) => {
    const rd = obj(d);
    if (!isObj(rd.destination)) {
      out.error([...at, i, "destination"], "destination is required; give it a host (e.g. destination: {host: reviews, subset: v1})");
    } else {
      validateDestination(rd.destination, [...at, i, "destination"], out);
    }
    const w = rd.weight;
    if (w === undefined || w === null) {
      if (items.length > 1) out.error([...at, i, "weight"], `weight is required when a route has ${items.length} destinations; give each a weight from 0 to 100 (e.g. 50 and 50)`);
    } else if (typeof w === "number") {
      if (w < 0 || w > 100) out.error([...at, i, "weight"], `weight must be between 0 and 100 (got ${w})`);
      else total += w;
    }
  });
  const weights = items.map((d) => obj(d).weight);
  if (items.length > 1 && weights.every((w) => typeof w === "number" && w >= 0 && w <= 100) && total === 0) {
    out.error([...at, 0, "weight"], "all destination weights are 0, so no traffic could be routed; give at least one destination a positive weight");
  }
}

function validateDestination(d: Obj, at: PathSegment[], out: Issues): void {
  const host = str(d.host);
  if (!host) out.error([...at, "host"], "host is required (the service to send traffic to, e.g. reviews)");
  else out.check([...at, "host"], hostName(host, false));
  if (d.subset !== undefined && d.subset !== "") out.check([...at, "subset"], dns1123Label(d.subset, "subset name"));
  if (isObj(d.port) && d.port.number !== undefined) out.check([...at, "port", "number"], port(d.port.number));
}

function validateFault(f: Obj, at: PathSegment[], out: Issues): void {
  if (isObj(f.delay)) {
    const d = f.delay;
    if (d.fixedDelay === undefined && d.exponentialDelay === undefined) out.error([...at, "delay", "fixedDelay"], 'fixedDelay is required (e.g. fixedDelay: "5s")');
    if (d.fixedDelay !== undefined) out.check([...at, "delay", "fixedDelay"], duration(d.fixedDelay, "fixedDelay"));
    if (isObj(d.percentage)) out.check([...at, "delay", "percentage", "value"], percent(d.percentage.value));
    if (d.percent !== undefined) out.check([...at, "delay", "percent"], percent(d.percent));
  }
  if (isObj(f.abort)) {
    const a = f.abort;
    if (isObj(a.percentage)) out.check([...at, "abort", "percentage", "value"], percent(a.percentage.value));
    if (a.httpStatus !== undefined) {
      const s = a.httpStatus;
      if (typeof s !== "number" || s < 200 || s > 599) out.error([...at, "abort", "httpStatus"], `httpStatus must be from 200 to 599 (got ${JSON.stringify(s)})`);
    } else if (a.grpcStatus === undefined && a.http2Error === undefined) {
      out.error([...at, "abort"], "abort needs httpStatus (e.g. httpStatus: 503)");
    }
  }
}
