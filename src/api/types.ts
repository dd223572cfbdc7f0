// The shapes every subsystem shares for configuration read from YAML.

/** Where a thing came from: a file and a 1-based line (and column when known). */
export interface SourcePos {
  file: string;
  line: number;
  column?: number;
}

/** Istio / Kubernetes kinds Mizzen understands. `Service` is Kubernetes core v1. */
export type KnownKind =
  | "VirtualService"
  | "DestinationRule"
  | "ServiceEntry"
  | "WorkloadEntry"
  | "WorkloadGroup"
  | "Gateway"
  | "Sidecar"
  | "PeerAuthentication"
  | "AuthorizationPolicy"
  | "RequestAuthentication"
  | "Telemetry"
  | "Service";

/** One accepted (schema- and semantically-valid) config object. */
export interface ConfigObject<Spec = Record<string, unknown>> {
  kind: KnownKind;
  apiVersion: string;
  metadata: {
    name: string;
    /** Defaults to "default" when the YAML leaves it out. */
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** RFC 3339, when the YAML has it (exported from a cluster); Istio's tie-breaker between policies. */
    creationTimestamp?: string;
  };
  spec: Spec;
  source: SourcePos;
}

/** The identity of an object across edits: kind/namespace/name. */
export type ConfigKey = string;

export function configKey(o: { kind: string; metadata: { namespace: string; name: string } }): ConfigKey {
  return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}

/**
 * A rejected object or document. `field` is a dotted path into the object
 * (e.g. "spec.http[0].route[1].weight"); `message` says what is wrong and how to fix it.
 */
export interface ConfigError extends SourcePos {
  kind?: string;
  name?: string;
  namespace?: string;
  field: string;
  message: string;
  /** "error" rejects the object; "warning" keeps it (e.g. an ignored kind). */
  severity: "error" | "warning";
}

/** file:line:col: Kind ns/name: field: message — the one-line form used by CLI and logs. */
export function formatConfigError(e: ConfigError): string {
  const where = `${e.file}:${e.line}${e.column ? `:${e.column}` : ""}`;
  const what = e.kind ? ` ${e.kind}${e.name ? ` ${e.namespace ?? "default"}/${e.name}` : ""}:` : "";
  return `${where}:${what} ${e.field ? `${e.field}: ` : ""}${e.message}`;
}
