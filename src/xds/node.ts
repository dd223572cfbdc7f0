// Who a proxy is. The proxy sends this as the xDS Node (id + metadata Struct) on its ADS stream;
// the control plane reads it to pick the proxy's config and to auto-register its workload.
// Metadata keys follow Istio's where Istio has one (NAME, NAMESPACE, LABELS, ...).

export type ProxyType = "sidecar" | "router" | "grpc";

export interface WorkloadPort {
  name: string;
  containerPort: number;
  protocol?: string;
}

export interface ProxyNode {
  /** "<type>~<ip>~<name>.<namespace>~<namespace>.svc.cluster.local", as Istio's. */
  id: string;
  type: ProxyType;
  /** The workload's own address ("pod IP"); the sidecar listens on it. */
  ip: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** Ports the workload serves (Istio's POD_PORTS). */
  ports: WorkloadPort[];
  /** Where the application itself listens; inbound traffic is forwarded there. Empty for proxyless. */
  appAddress: string;
  /** "NONE": explicit HTTP proxy (HTTP_PROXY); "REDIRECT": iptables capture (later). */
  interceptionMode: "NONE" | "REDIRECT";
  /** Register this workload in the registry while the stream is up (WorkloadGroup-style). */
  autoRegister: boolean;
  /**
   * The sidecar probes its application and reports health on the ADS stream (Istio's
   * HealthInformation); the control plane keeps the workload unhealthy until it hears "healthy".
   */
  healthReporting?: boolean;
  /** Free-form version of the proxy software. */
  proxyVersion?: string;
  /**
   * Port of the Prometheus page (/stats/prometheus) on the pod IP; 0 when the proxy serves none.
   * Absent: Istio's 15090 is assumed (Envoy and other clients do not send it).
   */
  metricsPort?: number;
}

/** Metadata keys carried in node.metadata. */
export const META = {
  name: "NAME",
  namespace: "NAMESPACE",
  labels: "LABELS",
  serviceAccount: "SERVICE_ACCOUNT",
  instanceIps: "INSTANCE_IPS",
  podPorts: "POD_PORTS", // JSON string, as Istio sends it
  interceptionMode: "INTERCEPTION_MODE",
  generator: "GENERATOR", // "grpc" marks a proxyless gRPC client
  appAddress: "MIZZEN_APP_ADDRESS",
  autoRegister: "MIZZEN_AUTO_REGISTER",
  healthReporting: "MIZZEN_HEALTH_REPORTING",
  proxyVersion: "ISTIO_VERSION",
  metricsPort: "MIZZEN_METRICS_PORT", // where the dashboard scrapes the proxy's metrics
} as const;
