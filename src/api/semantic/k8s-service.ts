// Kubernetes core `v1 Service`: users bring it to define name.namespace.svc.cluster.local.
// The Istio schema package does not cover it, so this is its whole (structural) check.
import { dns1123Label, isObj, Issues, labelMap, list, port } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";

const TYPES = new Set(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]);
const PROTOCOLS = new Set(["TCP", "UDP", "SCTP"]);

export function validateKubernetesService(spec: Obj, out: Issues): void {
  if (spec.selector !== undefined && spec.selector !== null) {
    if (!isObj(spec.selector)) out.error(["spec", "selector"], "selector must be a map of label: value (e.g. selector: {app: reviews})");
    else out.check(["spec", "selector"], labelMap(spec.selector));
  }
  if (spec.type !== undefined && !TYPES.has(String(spec.type))) {
    out.error(["spec", "type"], `type must be one of ${[...TYPES].join(", ")} (got ${JSON.stringify(spec.type)})`);
  }
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) {
    out.error(["spec", "ports"], "ports must be a list (each item: name, port, targetPort)");
    return;
  }
  const ports = list(spec.ports);
  if (ports.length === 0 && spec.type !== "ExternalName") out.error(["spec", "ports"], "at least one port is required (e.g. ports: [{name: http, port: 9080}])");
  const names = new Map<string, number>();
  const numbers = new Map<string, number>();
  ports.forEach((p, i) => {
    const at: PathSegment[] = ["spec", "ports", i];
    if (!isObj(p)) {
      out.error(at, "each port must be a map with name, port and targetPort");
      return;
    }
    validatePort(p, at, out);
    const name = p.name;
    if (name === undefined || name === "") {
      if (ports.length > 1) out.error([...at, "name"], "name is required when a Service has more than one port (e.g. name: http)");
    } else if (typeof name === "string") {
      const first = names.get(name);
      if (first !== undefined) out.error([...at, "name"], `port name "${name}" is already used by ports[${first}]`);
      else names.set(name, i);
    }
    const key = `${String(p.port)}/${String(p.protocol ?? "TCP")}`;
    const firstNum = numbers.get(key);
    if (typeof p.port === "number" && firstNum !== undefined) out.error([...at, "port"], `port ${p.port} is already used by ports[${firstNum}]`);
    else numbers.set(key, i);
  });
}

function validatePort(p: Obj, at: PathSegment[], out: Issues): void {
  if (p.port === undefined) out.error([...at, "port"], "port is required (the Service port number, e.g. 9080)");
  else out.check([...at, "port"], port(p.port));
  if (p.name !== undefined && p.name !== "") out.check([...at, "name"], dns1123Label(p.name, "port name"));
  const target = p.targetPort;
  if (typeof target === "number") out.check([...at, "targetPort"], port(target, "targetPort"));
  else if (typeof target === "string") {
    if (/^\d+$/.test(target)) out.check([...at, "targetPort"], port(Number(target), "targetPort"));
    else if (target.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(target) || !/[a-z]/.test(target)) {
      out.error([...at, "targetPort"], `targetPort "${target}" must be a port number or a container port name (at most 15 lowercase letters, digits and "-")`);
    }
  } else if (target !== undefined) {
    out.error([...at, "targetPort"], `targetPort must be a number or a port name (got ${JSON.stringify(target)})`);
  }
  if (p.protocol !== undefined && !PROTOCOLS.has(String(p.protocol))) {
    out.error([...at, "protocol"], `protocol must be TCP, UDP or SCTP (got ${JSON.stringify(p.protocol)}); put HTTP/gRPC in appProtocol or the port name`);
  }
  if (p.appProtocol !== undefined && typeof p.appProtocol !== "string") out.error([...at, "appProtocol"], "appProtocol must be a string (e.g. http, grpc)");
}
