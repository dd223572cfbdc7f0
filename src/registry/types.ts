// The service registry's model: what the translators read about services and workloads.
// Built from ServiceEntry, WorkloadEntry, Kubernetes Service objects and self-registered
// sidecars; never read by the proxy (it only sees Envoy resources).

/** Istio's protocol names, chosen from a port's name prefix or appProtocol. */
export type Protocol = "HTTP" | "HTTP2" | "GRPC" | "HTTPS" | "TCP" | "TLS" | "UNKNOWN";

export interface ServicePort {
  /** Port name (e.g. "http-web"); empty when not named. */
  name: string;
  /** The port clients dial on the service's host name. */
  number: number;
  protocol: Protocol;
  /** The port the workload listens on; defaults to `number`. */
  targetPort: number;
}

export interface Service {
  /** Fully-qualified host, e.g. "reviews.default.svc.cluster.local" or "api.example.com". */
  hostname: string;
  /** Namespace of the object that declared it. */
  namespace: string;
  /** Short names a client in the same namespace may use ("reviews", "reviews.default"). */
  aliases: string[];
  ports: ServicePort[];
  /** STATIC/DNS/NONE as ServiceEntry.resolution; Kubernetes services are STATIC. */
  resolution: "STATIC" | "DNS" | "NONE";
  location: "MESH_INTERNAL" | "MESH_EXTERNAL";
  /** Label selector picking workloads (ServiceEntry.workloadSelector / Service.spec.selector). */
  selector?: Record<string, string>;
  /** exportTo namespaces; undefined or ["*"] means everywhere. */
  exportTo?: string[];
  /** Which object declared it, e.g. "ServiceEntry/default/reviews". */
  origin: string;
}

/** A running (or declared) instance of an application. */
export interface Workload {
  /** Stable id: "<kind>/<namespace>/<name>" for WorkloadEntry, proxy id for self-registered. */
  uid: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** The address other workloads dial (with a sidecar: the sidecar's inbound address). */
  address: string;
  /** Port name -> port number overrides (WorkloadEntry.ports). */
  ports: Record<string, number>;
  locality?: string;
  weight?: number;
  /** True when a Mizzen/Envoy sidecar fronts this workload. */
  hasSidecar: boolean;
  /** "WorkloadEntry" or "auto-registered". */
  origin: string;
  /** False while the workload's sidecar reports its application unhealthy; absent means healthy. */
  healthy?: boolean;
  /** Why it is unhealthy (the sidecar's probe error), when it is. */
  healthMessage?: string;
}

/** One endpoint of one service port, ready for a ClusterLoadAssignment. */
export interface Endpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  workloadUid: string;
  serviceAccount: string;
  namespace: string;
  locality?: string;
  weight: number;
  healthy: boolean;
  /** "istio" when a sidecar fronts the endpoint (auto mTLS sends it mutual TLS), else "disabled". */
  tlsMode: "istio" | "disabled";
}

export interface Registry {
  /** Services keyed by hostname. */
  services: ReadonlyMap<string, Service>;
  workloads: ReadonlyMap<string, Workload>;
  /** Endpoints of hostname + service port number: key `${hostname}:${port}`. */
  endpoints: ReadonlyMap<string, readonly Endpoint[]>;
}
