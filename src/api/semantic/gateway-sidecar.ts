// Gateway and Sidecar semantics: servers, ports, host forms ("namespace/host"), TLS settings.
import { dns1123Label, hostName, isObj, Issues, labelMap, list, obj, port, str } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

/** "ns/host", "./host", "*\/host" or a bare host, as Gateway servers and Sidecar egress use. */
function namespacedHost(value: unknown, requireNamespace: boolean): string | null {
  if (typeof value !== "string" || value === "") return "host must not be empty";
  const slash = value.indexOf("/");
  if (slash < 0) {
    if (requireNamespace) return `host "${value}" must be written as namespace/host (e.g. "./*" or "istio-system/*")`;
    return hostName(value, true);
  }
  const ns = value.slice(0, slash);
  const host = value.slice(slash + 1);
  if (ns !== "*" && ns !== "." && ns !== "~") {
    const err = dns1123Label(ns, "namespace");
    if (err) return `host "${value}": ${err}`;
  }
  return hostName(host, true);
}

export function validateGateway(spec: Obj, out: Issues): void {
  if (spec.selector !== undefined) out.check(["spec", "selector"], labelMap(spec.selector));
  const servers = list(spec.servers);
  if (servers.length === 0) out.error(["spec", "servers"], "at least one server is required (a port, protocol and hosts)");
  const portNames = new Map<string, number>();
  servers.forEach((s, i) => {
    const server = obj(s);
    const at: PathSegment[] = ["spec", "servers", i];
    const p = obj(server.port);
    if (!isObj(server.port)) out.error([...at, "port"], "port is required (number, name and protocol)");
    else {
      out.check([...at, "port", "number"], port(p.number));
      const name = str(p.name);
      if (name) {
        const first = portNames.get(name);
        if (first !== undefined) out.error([...at, "port", "name"], `port name "${name}" is already used by servers[${first}]; server port names must be unique`);
        else portNames.set(name, i);
      }
    }
    const hosts = list(server.hosts);
    if (hosts.length === 0) out.error([...at, "hosts"], 'at least one host is required (e.g. hosts: ["*"] or ["bookinfo.example.com"])');
    hosts.forEach((h, j) => out.check([...at, "hosts", j], namespacedHost(h, false)));
    const protocol = (str(p.protocol) ?? "").toUpperCase();
    const tls = server.tls;
    if ((protocol === "HTTPS" || protocol === "TLS") && !isObj(tls)) {
      out.error([...at, "tls"], `a server with protocol ${protocol} needs tls settings (e.g. tls: {mode: SIMPLE, credentialName: my-cert})`);
    }
    if (isObj(tls)) {
      const mode = str(tls.mode) ?? "PASSTHROUGH";
      if (tls.httpsRedirect === true && protocol !== "HTTP") out.error([...at, "tls", "httpsRedirect"], "httpsRedirect only applies to an HTTP server");
      if ((mode === "SIMPLE" || mode === "MUTUAL") && !tls.credentialName && !(tls.serverCertificate && tls.privateKey)) {
        out.error([...at, "tls"], `tls mode ${mode} needs credentialName, or serverCertificate and privateKey`);
      }
    }
  });
}

export function validateSidecar(spec: Obj, out: Issues): void {
  if (spec.workloadSelector !== undefined) out.check(["spec", "workloadSelector", "labels"], labelMap(obj(spec.workloadSelector).labels ?? {}));
  list(spec.ingress).forEach((l, i) => {
    const listener = obj(l);
    const at: PathSegment[] = ["spec", "ingress", i];
    if (!isObj(listener.port)) out.error([...at, "port"], "port is required (number, name and protocol)");
    else out.check([...at, "port", "number"], port(listener.port.number));
    const ep = str(listener.defaultEndpoint);
    if (ep !== undefined && ep !== "" && !/^(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):\d{1,5}$/.test(ep) && !ep.startsWith("unix://")) {
      out.error([...at, "defaultEndpoint"], `defaultEndpoint "${ep}" must be 127.0.0.1:PORT, 0.0.0.0:PORT or unix:///path`);
    }
  });
  list(spec.egress).forEach((l, i) => {
    const listener = obj(l);
    const at: PathSegment[] = ["spec", "egress", i];
    const hosts = list(listener.hosts);
    if (hosts.length === 0) out.error([...at, "hosts"], 'hosts is required (e.g. hosts: ["./*", "istio-system/*"])');
    hosts.forEach((h, j) => out.check([...at, "hosts", j], namespacedHost(h, true)));
    if (isObj(listener.port) && listener.port.number !== undefined) out.check([...at, "port", "number"], port(listener.port.number));
  });
}
