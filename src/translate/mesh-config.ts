// Mesh-wide settings the translators read (Istio's MeshConfig, the parts we use).
export interface MeshConfig {
  /** Namespace whose DestinationRules etc. apply mesh-wide (Istio: "istio-system"). */
  rootNamespace: string;
  /** Kubernetes cluster domain, e.g. "cluster.local". */
  domainSuffix: string;
  /** Add an access log to every HTTP connection manager. */
  accessLog: boolean;
}

export const DEFAULT_MESH_CONFIG: MeshConfig = {
  rootNamespace: "istio-system",
  domainSuffix: "cluster.local",
  accessLog: true,
};
