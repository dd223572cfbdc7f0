// Loopback addresses for a local mesh (docs/architecture.md): pod n (1-based, counted across all
// workloads and replicas in file order) gets pod IP 127.S.1.n, owned by its sidecar, and its
// application listens on 127.S.2.n. Same ports for every pod, as in Kubernetes.
import type { WorkloadSpec } from "./workloads-file.ts";

export const OUTBOUND_PORT = 15001;
export const ADMIN_PORT = 15000;
/** Highest n: the last octet of 127.S.1.n. */
export const MAX_PODS = 254;

/** One replica of one workload, with its addresses. */
export interface PodPlan {
  spec: WorkloadSpec;
  /** Pod name: the workload name, or "<name>-<i>" when it has several replicas. */
  podName: string;
  replica: number;
  podIp: string;
  appAddress: string;
}

export function podIp(subnet: number, n: number): string {
  return `127.${subnet}.1.${n}`;
}

export function appAddress(subnet: number, n: number): string {
  return `127.${subnet}.2.${n}`;
}

export function checkSubnet(subnet: number): void {
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) {
    throw new RangeError(`subnet ${subnet} must be a whole number 1..254 (pods get 127.<subnet>.1.N)`);
  }
}

/** Gives every replica of every workload its pod IP and app address. */
export function planPods(workloads: WorkloadSpec[], subnet: number): PodPlan[] {
  checkSubnet(subnet);
  const total = workloads.reduce((sum, w) => sum + w.replicas, 0);
  if (total > MAX_PODS) {
    throw new RangeError(`the workloads file asks for ${total} pods; a local mesh holds at most ${MAX_PODS} (lower some replicas)`);
  }
  const pods: PodPlan[] = [];
  for (const spec of workloads) {
    for (let replica = 0; replica < spec.replicas; replica++) {
      const n = pods.length + 1;
      pods.push({
        spec,
        podName: spec.replicas > 1 ? `${spec.name}-${replica}` : spec.name,
        replica,
        podIp: podIp(subnet, n),
        appAddress: appAddress(subnet, n),
      });
    }
  }
  return pods;
}

/** Every host:port the mesh will listen on, with who takes it (for the "port in use" check). */
export function plannedListeners(pods: PodPlan[]): { host: string; port: number; owner: string; flag?: string }[] {
  const out: { host: string; port: number; owner: string }[] = [];
  for (const p of pods) {
    out.push({ host: p.podIp, port: ADMIN_PORT, owner: `${p.podName} sidecar admin` });
    out.push({ host: p.podIp, port: OUTBOUND_PORT, owner: `${p.podName} sidecar outbound` });
    for (const port of p.spec.ports) {
      out.push({ host: p.podIp, port: port.port, owner: `${p.podName} sidecar inbound` });
      out.push({ host: p.appAddress, port: port.port, owner: p.podName });
    }
  }
  return out;
}
