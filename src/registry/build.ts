// Builds the registry: services, workloads and the endpoints of every service port, from
// config objects and the proxies connected right now. Pure and deterministic: the same
// inputs give equal maps with the same iteration order.
import type { ConfigObject } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { Endpoint, Registry, Service, Workload } from "./types.ts";
import { labelsMatch } from "./read-spec.ts";
import { kubernetesService, serviceEntryServices, type ServiceRecord } from "./services.ts";
import { workloadFromEntry, workloadFromProxy } from "./workloads.ts";
import { localityFromLabels } from "./locality.ts";

export interface BuildRegistryOptions {
  /** Kubernetes cluster domain; default "cluster.local". */
  domainSuffix?: string;
  /**
   * Health of auto-registered workloads, by proxy id, as their sidecars report it. A proxy
   * not listed is healthy. Unhealthy workloads keep their endpoints, marked unhealthy.
   */
  health?: ReadonlyMap<string, { healthy: boolean; message?: string }>;
}

function byKey<T>(m: Map<string, T>): Map<string, T> {
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.workloadUid < b.workloadUid ? -1 : a.workloadUid > b.workloadUid ? 1 : 0;
}

function endpointOf(w: Workload, port: number): Endpoint {
  // An explicit locality wins; else the topology labels (Istio's rule for pods and VMs).
  const locality = w.locality ?? localityFromLabels(w.labels);
  return {
    address: w.address,
    port,
    labels: { ...w.labels },
    workloadUid: w.uid,
    serviceAccount: w.serviceAccount,
    namespace: w.namespace,
    ...(locality ? { locality } : {}),
    weight: w.weight ?? 1,
    healthy: w.healthy !== false,
    tlsMode: w.hasSidecar ? "istio" : "disabled",
  };
}

/**
 * The workload port for a service port: the workload's own port of the same name wins
 * (WorkloadEntry.ports), then a named targetPort resolved against the workload's named
 * ports, then the numeric target. Undefined when a named target cannot be resolved.
 */
function workloadPort(w: Workload, portName: string, target: number | string): number | undefined {
  if (portName && w.ports[portName] !== undefined) return w.ports[portName];
  if (typeof target === "string") return w.ports[target];
  return target;
}

function endpointsFor(rec: ServiceRecord, workloads: readonly Workload[]): Map<number, Endpoint[]> {
  const out = new Map<number, Endpoint[]>();
  const svc = rec.service;
  // Inline ServiceEntry endpoints stand for the selector.
  const members = rec.inlineWorkloads.length > 0
    ? rec.inlineWorkloads
    : svc.selector
      ? workloads.filter((w) =>
          w.origin !== "ServiceEntry" &&
          (!rec.sameNamespaceOnly || w.namespace === svc.namespace) &&
          labelsMatch(svc.selector ?? {}, w.labels))
      : [];
  for (const p of svc.ports) {
    const list: Endpoint[] = [];
    const target = rec.targets.get(p.number) ?? p.targetPort;
    for (const w of members) {
      const port = workloadPort(w, p.name, target);
      if (port !== undefined) list.push(endpointOf(w, port));
    }
    // DNS ServiceEntry with neither selector nor endpoints: the host name is the endpoint.
    if (members.length === 0 && !svc.selector && svc.resolution === "DNS" && !svc.hostname.includes("*")) {
      list.push({
        address: svc.hostname,
        port: typeof target === "number" ? target : p.number,
        labels: {},
        workloadUid: "",
        serviceAccount: "",
        namespace: svc.namespace,
        weight: 1,
        healthy: true,
        tlsMode: "disabled",
      });
    }
    out.set(p.number, list.sort(compareEndpoints));
  }
  return out;
}

export function buildRegistry(objects: ConfigObject[], proxies: ProxyNode[], opts?: BuildRegistryOptions): Registry {
  const domainSuffix = opts?.domainSuffix ?? "cluster.local";
  const records = new Map<string, ServiceRecord>();
  const workloads = new Map<string, Workload>();

  // Objects in a stable order, so that when two objects declare the same host the winner
  // does not depend on input order: Kubernetes Services first, then by namespace/name.
  const sorted = [...objects].sort((a, b) => {
    const ka = `${a.kind === "Service" ? 0 : 1}/${a.metadata.namespace}/${a.metadata.name}/${a.kind}`;
    const kb = `${b.kind === "Service" ? 0 : 1}/${b.metadata.namespace}/${b.metadata.name}/${b.kind}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  for (const o of sorted) {
    if (o.kind === "Service") {
      const rec = kubernetesService(o, domainSuffix);
      if (rec && !records.has(rec.service.hostname)) records.set(rec.service.hostname, rec);
    } else if (o.kind === "ServiceEntry") {
      for (const rec of serviceEntryServices(o)) {
        if (!records.has(rec.service.hostname)) records.set(rec.service.hostname, rec);
        for (const w of rec.inlineWorkloads) workloads.set(w.uid, w);
      }
    } else if (o.kind === "WorkloadEntry") {
      const w = workloadFromEntry(o);
      if (w) workloads.set(w.uid, w);
    }
  }
  for (const p of proxies) {
    if (p.autoRegister && p.ip) workloads.set(p.id, workloadFromProxy(p, opts?.health?.get(p.id)));
  }

  const sortedWorkloads = byKey(workloads);
  const workloadList = [...sortedWorkloads.values()];
  const services = new Map<string, Service>();
  const endpoints = new Map<string, readonly Endpoint[]>();
  for (const [host, rec] of byKey(records)) {
    services.set(host, rec.service);
    for (const [port, list] of endpointsFor(rec, workloadList)) endpoints.set(`${host}:${port}`, list);
  }
  return { services, workloads: sortedWorkloads, endpoints };
}
