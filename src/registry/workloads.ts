// Workloads: declared by WorkloadEntry objects, or registered by a connected proxy that asks
// for it (autoRegister), the way Istio's WorkloadGroup auto-registration does.
import type { ConfigObject } from "../api/types.ts";
import { configKey } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { Workload } from "./types.ts";
import { num, numMap, str, strMap } from "./read-spec.ts";

export function workloadFromEntry(o: ConfigObject): Workload | undefined {
  const address = str(o.spec.address);
  if (!address) return undefined;
  const weight = num(o.spec.weight);
  const locality = str(o.spec.locality);
  return {
    uid: configKey(o),
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    labels: strMap(o.spec.labels),
    serviceAccount: str(o.spec.serviceAccount) ?? "default",
    address,
    ports: numMap(o.spec.ports),
    ...(locality ? { locality } : {}),
    ...(weight !== undefined ? { weight } : {}),
    // Istio's rule: a WorkloadEntry is known to run a sidecar by this label.
    hasSidecar: strMap(o.spec.labels)["security.istio.io/tlsMode"] === "istio",
    origin: "WorkloadEntry",
  };
}

/** `health` is the sidecar's last report; absent or healthy leaves the workload healthy. */
export function workloadFromProxy(p: ProxyNode, health?: { healthy: boolean; message?: string }): Workload {
  const ports: Record<string, number> = {};
  for (const wp of p.ports) if (wp.name) ports[wp.name] = wp.containerPort;
  return {
    uid: p.id,
    name: p.name,
    namespace: p.namespace,
    labels: { ...p.labels },
    serviceAccount: p.serviceAccount,
    address: p.ip,
    ports,
    hasSidecar: p.type === "sidecar",
    origin: "auto-registered",
    ...(health && !health.healthy ? { healthy: false, ...(health.message ? { healthMessage: health.message } : {}) } : {}),
  };
}
