// Services from config: Kubernetes Service objects and Istio ServiceEntries, plus what the
// endpoint builder needs beyond the shared Service shape (named target ports, inline
// endpoints of a ServiceEntry).
import type { ConfigObject } from "../api/types.ts";
import { configKey } from "../api/types.ts";
import type { Service, ServicePort, Workload } from "./types.ts";
import { protocolForPort, protocolForServiceEntryPort, toRegistryProtocol } from "./protocol.ts";
import { num, numMap, obj, objs, str, strMap, strs } from "./read-spec.ts";

export interface ServiceRecord {
  service: Service;
  /** Service port number -> target: a number, or a port name resolved per workload. */
  targets: Map<number, number | string>;
  /** For ServiceEntry inline endpoints: the workloads they became (used instead of a selector). */
  inlineWorkloads: Workload[];
  /** Kubernetes Service: workloads come only from the service's own namespace. */
  sameNamespaceOnly: boolean;
}

/** The annotation Istio reads for a Kubernetes Service's exportTo. */
export const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";

function sortPorts(ports: ServicePort[]): ServicePort[] {
  return ports.sort((a, b) => a.number - b.number);
}

/** One Kubernetes `kind: Service` -> one service record (undefined when it has no ports). */
export function kubernetesService(o: ConfigObject, domainSuffix: string): ServiceRecord | undefined {
  const { name, namespace } = o.metadata;
  const spec = o.spec;
  const targets = new Map<number, number | string>();
  const ports: ServicePort[] = [];
  for (const p of objs(spec.ports)) {
    const number = num(p.port);
    if (number === undefined) continue;
    const portName = str(p.name) ?? "";
    const rawTarget = p.targetPort;
    const targetNumber = num(rawTarget);
    const targetName = typeof rawTarget === "string" && targetNumber === undefined ? rawTarget : undefined;
    targets.set(number, targetName ?? targetNumber ?? number);
    const protocol = protocolForPort({ port: number, name: portName, transport: str(p.protocol), appProtocol: str(p.appProtocol) });
    ports.push({ name: portName, number, protocol: toRegistryProtocol(protocol), targetPort: targetNumber ?? number });
  }
  if (ports.length === 0) return undefined;
  const selector = obj(spec.selector) ? strMap(spec.selector) : undefined;
  const exportAnnotation = o.metadata.annotations?.[EXPORT_TO_ANNOTATION];
  const exportTo = exportAnnotation ? exportAnnotation.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  const service: Service = {
    hostname: `${name}.${namespace}.svc.${domainSuffix}`,
    namespace,
    aliases: [name, `${name}.${namespace}`, `${name}.${namespace}.svc`],
    ports: sortPorts(ports),
    resolution: "STATIC",
    location: "MESH_INTERNAL",
    ...(selector && Object.keys(selector).length > 0 ? { selector } : {}),
    ...(exportTo ? { exportTo } : {}),
    origin: configKey(o),
  };
  return { service, targets, inlineWorkloads: [], sameNamespaceOnly: true };
}

function resolutionOf(v: unknown): Service["resolution"] {
  const r = str(v)?.toUpperCase();
  if (r === "DNS" || r === "DNS_ROUND_ROBIN") return "DNS";
  if (r === "STATIC") return "STATIC";
  return "NONE"; // Istio's default resolution
}

/** ServiceEntry inline endpoints -> workloads owned by that entry. */
function inlineEndpoints(o: ConfigObject): Workload[] {
  const { name, namespace } = o.metadata;
  const out: Workload[] = [];
  objs(o.spec.endpoints).forEach((e, i) => {
    const address = str(e.address);
    if (!address) return;
    const weight = num(e.weight);
    const locality = str(e.locality);
    out.push({
      uid: `${configKey(o)}/endpoints/${i}`,
      name: `${name}-${i}`,
      namespace,
      labels: strMap(e.labels),
      serviceAccount: str(e.serviceAccount) ?? "",
      address,
      ports: numMap(e.ports),
      ...(locality ? { locality } : {}),
      ...(weight !== undefined ? { weight } : {}),
      hasSidecar: strMap(e.labels)["security.istio.io/tlsMode"] === "istio",
      origin: "ServiceEntry",
    });
  });
  return out;
}

/** One ServiceEntry -> one record per host. */
export function serviceEntryServices(o: ConfigObject): ServiceRecord[] {
  const spec = o.spec;
  const targets = new Map<number, number | string>();
  const ports: ServicePort[] = [];
  for (const p of objs(spec.ports)) {
    const number = num(p.number);
    if (number === undefined) continue;
    const target = num(p.targetPort) ?? number;
    targets.set(number, target);
    const protocol = protocolForServiceEntryPort({ number, name: str(p.name), protocol: str(p.protocol) });
    ports.push({ name: str(p.name) ?? "", number, protocol: toRegistryProtocol(protocol), targetPort: target });
  }
  const selectorLabels = obj(spec.workloadSelector) ? strMap(obj(spec.workloadSelector)?.labels) : undefined;
  const exportTo = Array.isArray(spec.exportTo) ? strs(spec.exportTo) : undefined;
  const location = str(spec.location)?.toUpperCase() === "MESH_INTERNAL" ? "MESH_INTERNAL" : "MESH_EXTERNAL";
  const workloads = inlineEndpoints(o);
  return strs(spec.hosts).map((host) => ({
    service: {
      hostname: host,
      namespace: o.metadata.namespace,
      aliases: [],
      ports: sortPorts(ports.map((p) => ({ ...p }))),
      resolution: resolutionOf(spec.resolution),
      location,
      ...(selectorLabels ? { selector: selectorLabels } : {}),
      ...(exportTo ? { exportTo } : {}),
      origin: configKey(o),
    },
    targets: new Map(targets),
    inlineWorkloads: workloads,
    sameNamespaceOnly: true,
  }));
}
