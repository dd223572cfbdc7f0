// ServiceEntry, WorkloadEntry and WorkloadGroup semantics: hosts, ports, resolution rules.
import { dns1123Label, hostName, ipOrCidr, isIP, isObj, Issues, labelMap, list, obj, port, str } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

const PROTOCOLS = new Set(["HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS", "UDP", "MONGO", "MYSQL", "REDIS", "THRIFT", "HTTP_PROXY", "UNSUPPORTED"]);

export function validateServiceEntry(spec: Obj, out: Issues): void {
  const hosts = list(spec.hosts);
  if (hosts.length === 0) out.error(["spec", "hosts"], 'at least one host is required (e.g. hosts: ["api.example.com"])');
  hosts.forEach((h, i) => out.check(["spec", "hosts", i], hostName(h, false)));
  list(spec.addresses).forEach((a, i) => out.check(["spec", "addresses", i], ipOrCidr(a)));

  const portNames = new Set<string>();
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  list(spec.ports).forEach((p, i) => {
    const sp = obj(p);
    const at: PathSegment[] = ["spec", "ports", i];
    out.check([...at, "number"], port(sp.number, "port number"));
    if (typeof sp.number === "number") {
      const first = numbers.get(sp.number);
      if (first !== undefined) out.error([...at, "number"], `port number ${sp.number} is already used by ports[${first}]; port numbers must be unique`);
      else numbers.set(sp.number, i);
    }
    if (typeof sp.name === "string" && sp.name !== "") {
      out.check([...at, "name"], portName(sp.name));
      const first = names.get(sp.name);
      if (first !== undefined) out.error([...at, "name"], `port name "${sp.name}" is already used by ports[${first}]; port names must be unique`);
      else names.set(sp.name, i);
      portNames.add(sp.name);
    }
    if (sp.targetPort !== undefined) out.check([...at, "targetPort"], port(sp.targetPort, "targetPort"));
    if (sp.protocol !== undefined) out.check([...at, "protocol"], protocol(sp.protocol));
  });

  const endpoints = list(spec.endpoints);
  const hasSelector = spec.workloadSelector !== undefined && spec.workloadSelector !== null;
  if (hasSelector && endpoints.length > 0) {
    out.error(["spec", "workloadSelector"], "set only one of workloadSelector and endpoints: a ServiceEntry either selects workloads by label or lists endpoints");
  }
  if (hasSelector) out.check(["spec", "workloadSelector", "labels"], labelMap(obj(spec.workloadSelector).labels ?? {}));
  const resolution = str(spec.resolution) ?? "NONE";
  endpoints.forEach((e, i) => validateEndpoint(obj(e), ["spec", "endpoints", i], resolution, portNames, out));
  switch (resolution) {
    case "NONE":
      if (endpoints.length > 0) out.error(["spec", "endpoints"], "endpoints are not allowed with resolution NONE; use resolution STATIC (IP endpoints) or DNS (host name endpoints)");
      break;
    case "STATIC":
      if (endpoints.length === 0 && !hasSelector) out.error(["spec", "resolution"], "resolution STATIC needs endpoints (or a workloadSelector); list the endpoint addresses");
      break;
    case "DNS":
      if (endpoints.length === 0 && !hasSelector) {
        hosts.forEach((h, i) => {
          if (typeof h === "string" && h.startsWith("*")) out.error(["spec", "hosts", i], `wildcard host "${h}" cannot be resolved with resolution DNS; use resolution NONE, or give endpoints`);
        });
      }
      break;
    case "DNS_ROUND_ROBIN":
      if (endpoints.length > 1) out.error(["spec", "endpoints"], "resolution DNS_ROUND_ROBIN allows at most one endpoint; use DNS for several");
      break;
  }
  list(spec.exportTo).forEach((e, i) => {
    if (e !== "." && e !== "*") out.check(["spec", "exportTo", i], dns1123Label(e, "exportTo namespace"));
  });
}

function validateEndpoint(e: Obj, at: PathSegment[], resolution: string, portNames: Set<string>, out: Issues): void {
  const address = str(e.address);
  if (!address) {
    if (e.network === undefined) out.error([...at, "address"], "address is required (an IP address, a host name for DNS resolution, or unix:///path)");
  } else if (address.startsWith("unix://")) {
    if (resolution !== "STATIC") out.error([...at, "address"], "unix socket addresses are only allowed with resolution STATIC");
  } else if (resolution === "STATIC" && !isIP(address)) {
    out.error([...at, "address"], `address "${address}" must be an IP address with resolution STATIC; use resolution DNS for host names`);
  } else if (!isIP(address)) {
    out.check([...at, "address"], hostName(address, false));
  }
  if (isObj(e.ports)) {
    for (const [name, num] of Object.entries(e.ports)) {
      out.check([...at, "ports", name], port(num, `endpoint port "${name}"`));
      if (portNames.size > 0 && !portNames.has(name)) out.error([...at, "ports", name], `endpoint port "${name}" is not one of the ServiceEntry's port names (${[...portNames].join(", ")})`);
    }
  }
  if (e.labels !== undefined) out.check([...at, "labels"], labelMap(e.labels));
}

function portName(name: string): string | null {
  return dns1123Label(name, "port name");
}

function protocol(p: unknown): string | null {
  if (typeof p !== "string" || !PROTOCOLS.has(p.toUpperCase())) {
    return `unknown protocol ${JSON.stringify(p)}; use one of ${[...PROTOCOLS].join(", ")}`;
  }
  return null;
}

/** WorkloadEntry spec (also the template of a WorkloadGroup, where address must be empty). */
export function validateWorkloadEntry(spec: Obj, out: Issues, at: PathSegment[] = ["spec"], isTemplate = false): void {
  const address = str(spec.address);
  if (isTemplate) {
    if (address) out.error([...at, "address"], "address must not be set in a WorkloadGroup template; each workload registers its own");
  } else if (!address) {
    if (!str(spec.network)) out.error([...at, "address"], "address is required (the workload's IP or host name) unless network is set");
  } else if (!address.startsWith("unix://") && !isIP(address)) {
    out.check([...at, "address"], hostName(address, false));
  }
  if (isObj(spec.ports)) {
    for (const [name, num] of Object.entries(spec.ports)) {
      out.check([...at, "ports", name], dns1123Label(name, "port name"));
      out.check([...at, "ports", name], port(num, `port "${name}"`));
    }
  }
  if (spec.labels !== undefined) out.check([...at, "labels"], labelMap(spec.labels));
  if (typeof spec.weight === "number" && spec.weight < 0) out.error([...at, "weight"], "weight must be 0 or more");
  if (spec.serviceAccount !== undefined && spec.serviceAccount !== "") out.check([...at, "serviceAccount"], dns1123Label(spec.serviceAccount, "serviceAccount"));
}

export function validateWorkloadGroup(spec: Obj, out: Issues): void {
  if (!isObj(spec.template)) {
    out.error(["spec", "template"], "template is required: the WorkloadEntry fields shared by every workload of the group");
    return;
  }
  validateWorkloadEntry(spec.template, out, ["spec", "template"], true);
  const meta = obj(spec.metadata);
  if (meta.labels !== undefined) out.check(["spec", "metadata", "labels"], labelMap(meta.labels));
}
