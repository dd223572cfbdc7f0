// Mesh-wide settings the translators read (Istio's MeshConfig, the parts we use).
export interface MeshConfig {
  /** Namespace whose DestinationRules etc. apply mesh-wide (Istio: "istio-system"). */
  rootNamespace: string;
  /** Kubernetes cluster domain, e.g. "cluster.local". */
  domainSuffix: string;
  /** SPIFFE trust domain of workload identities (spiffe://<trustDomain>/ns/<ns>/sa/<sa>); default "cluster.local". */
  trustDomain?: string;
  /**
   * meshConfig.accessLogFile=/dev/stdout: access logs on for every sidecar with the "envoy"
   * provider, unless a Telemetry object says otherwise for a workload.
   */
  accessLog: boolean;
  /** meshConfig.accessLogEncoding: the format of the built-in "envoy" provider (default TEXT). */
  accessLogEncoding?: "TEXT" | "JSON";
  /** meshConfig.extensionProviders with envoyFileAccessLog (Telemetry names them in providers). */
  accessLogProviders?: readonly AccessLogProvider[];
}

/** meshConfig.extensionProviders[].envoyFileAccessLog: a file logger with a text or JSON format. */
export interface AccessLogProvider {
  name: string;
  /** Only "/dev/stdout" is written by the Mizzen proxy. */
  path: string;
  /** logFormat.text (Envoy format string) or logFormat.labels (JSON keys -> Envoy format strings). */
  logFormat?: { text: string } | { labels: Readonly<Record<string, string>> };
}

export const DEFAULT_MESH_CONFIG: MeshConfig = {
  rootNamespace: "istio-system",
  domainSuffix: "cluster.local",
  accessLog: true,
};
