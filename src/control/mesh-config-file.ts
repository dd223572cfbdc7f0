// A mesh config file: Istio's MeshConfig in YAML, as written under the `mesh` key of the
// `istio` ConfigMap (or IstioOperator's spec.meshConfig). `mizzen up DIR` reads DIR/meshconfig.yaml,
// `mizzen control --mesh-config FILE` any file. Read once at start: restart to change it.
//
// Understood: accessLogFile, accessLogEncoding, enableTracing, meshId, outboundTrafficPolicy,
// defaultProviders.tracing, defaultConfig.tracing.sampling, and extensionProviders with
// opentelemetry, zipkin or envoyFileAccessLog. Anything else is a warning (ignored, named);
// a wrong value is an error naming file:line and the field, and the file is refused whole.
import type { ConfigError } from "../api/types.ts";
import { formatPath, parseYamlDocuments, type FieldPath, type YamlDocument } from "../api/yaml.ts";
import { toDuration } from "../translate/duration.ts";
import type { AccessLogProvider, MeshConfig, TracingProvider } from "../translate/mesh-config.ts";

/** The MeshConfig fields a file may set; the command line supplies the rest. */
export type MeshConfigOverrides = Partial<Pick<MeshConfig,
  "accessLog" | "accessLogEncoding" | "accessLogProviders" | "enableTracing" | "defaultTracingProviders" | "tracingProviders" | "tracingSampling" | "meshId" | "outboundTrafficPolicy">>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const KNOWN_TOP = new Set(["accessLogFile", "accessLogEncoding", "accessLogFormat", "enableTracing", "meshId", "outboundTrafficPolicy", "defaultProviders", "defaultConfig", "extensionProviders", "trustDomain", "rootNamespace"]);
const IGNORED_PROVIDER_KINDS = ["envoyExtAuthzHttp", "envoyExtAuthzGrpc", "envoyHttpAls", "envoyTcpAls", "envoyOtelAls", "stackdriver", "datadog", "skywalking", "lightstep", "sds"];

class Reader {
  readonly issues: ConfigError[] = [];
  private readonly doc: YamlDocument;
  constructor(doc: YamlDocument) {
    this.doc = doc;
  }
  private add(path: FieldPath, message: string, severity: "error" | "warning"): void {
    const at = this.doc.positionOf(path);
    this.issues.push({ file: this.doc.file, line: at.line, column: at.column, kind: "MeshConfig", field: formatPath(path), message, severity });
  }
  error(path: FieldPath, message: string): void {
    this.add(path, message, "error");
  }
  warn(path: FieldPath, message: string): void {
    this.add(path, message, "warning");
  }
  line(path: FieldPath): number {
    return this.doc.positionOf(path).line;
  }
  str(v: unknown, path: FieldPath, what: string): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v === "string") return v;
    this.error(path, `${what} must be a string`);
    return undefined;
  }
  port(v: unknown, path: FieldPath): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    this.error(path, v === undefined ? "port is required" : `${JSON.stringify(v)} is not a port (1-65535)`);
    return undefined;
  }
  source(path: FieldPath): { file: string; line: number } {
    return { file: this.doc.file, line: this.line(path) };
  }
}

function headers(r: Reader, v: unknown, path: FieldPath): { name: string; value: string }[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    r.error(path, "headers must be a list of {name, value} (or {name, envName})");
    return [];
  }
  const out: { name: string; value: string }[] = [];
  v.forEach((h, i) => {
    const at = [...path, i];
    if (!isObj(h) || typeof h.name !== "string" || h.name === "") return r.error(at, "each header needs a name");
    if (typeof h.value === "string") out.push({ name: h.name, value: h.value });
    // envName: the control plane's environment, as istiod reads it.
    else if (typeof h.envName === "string") out.push({ name: h.name, value: process.env[h.envName] ?? "" });
    else r.error(at, `header "${h.name}" needs value or envName`);
  });
  return out;
}

function openTelemetry(r: Reader, name: string, v: Obj, path: FieldPath): TracingProvider | undefined {
  const service = r.str(v.service, [...path, "service"], "service");
  const port = r.port(v.port, [...path, "port"]);
  if (!service) r.error([...path, "service"], 'service is required ("[<namespace>/]<host>" of a Service or ServiceEntry)');
  let http: NonNullable<Extract<TracingProvider, { kind: "opentelemetry" }>["http"]> | undefined;
  if (v.http !== undefined) {
    if (!isObj(v.http)) r.error([...path, "http"], "http must be an object {path, timeout, headers}");
    else {
      const p = r.str(v.http.path, [...path, "http", "path"], "path") ?? "/v1/traces";
      const timeout = v.http.timeout === undefined ? undefined : toDuration(v.http.timeout);
      if (v.http.timeout !== undefined && !timeout) r.error([...path, "http", "timeout"], `${JSON.stringify(v.http.timeout)} is not a duration (e.g. "5s", "500ms")`);
      http = { path: p || "/v1/traces", ...(timeout ? { timeout } : {}), headers: headers(r, v.http.headers, [...path, "http", "headers"]) };
    }
  }
  // Without http, Istio exports OTLP over gRPC (a collector's port 4317); `grpc` tunes that call.
  let grpc: NonNullable<Extract<TracingProvider, { kind: "opentelemetry" }>["grpc"]> | undefined;
  if (v.grpc !== undefined) {
    if (http) r.warn([...path, "grpc"], `provider "${name}" sets both http and grpc: spans go over HTTP and grpc is ignored`);
    else if (!isObj(v.grpc)) r.error([...path, "grpc"], "grpc must be an object {timeout, initialMetadata}");
    else {
      const timeout = v.grpc.timeout === undefined ? undefined : toDuration(v.grpc.timeout);
      if (v.grpc.timeout !== undefined && !timeout) r.error([...path, "grpc", "timeout"], `${JSON.stringify(v.grpc.timeout)} is not a duration (e.g. "5s", "500ms")`);
      grpc = { ...(timeout ? { timeout } : {}), initialMetadata: headers(r, v.grpc.initialMetadata, [...path, "grpc", "initialMetadata"]) };
    }
  }
  if (!service || port === undefined) return undefined;
  return { kind: "opentelemetry", name, service, port, ...(http ? { http } : {}), ...(grpc ? { grpc } : {}), source: r.source(path) };
}

function zipkin(r: Reader, name: string, v: Obj, path: FieldPath): TracingProvider | undefined {
  const service = r.str(v.service, [...path, "service"], "service");
  const port = r.port(v.port, [...path, "port"]);
  if (!service) r.error([...path, "service"], 'service is required ("[<namespace>/]<host>" of a Service or ServiceEntry)');
  const p = r.str(v.path, [...path, "path"], "path");
  if (v.enable64bitTraceId !== undefined && typeof v.enable64bitTraceId !== "boolean") r.error([...path, "enable64bitTraceId"], "enable64bitTraceId must be true or false");
  if (!service || port === undefined) return undefined;
  return { kind: "zipkin", name, service, port, ...(p ? { path: p } : {}), ...(v.enable64bitTraceId === true ? { traceId64bit: true } : {}), source: r.source(path) };
}

function fileAccessLog(r: Reader, name: string, v: Obj, path: FieldPath): AccessLogProvider | undefined {
  const p = r.str(v.path, [...path, "path"], "path") ?? "/dev/stdout";
  const f = v.logFormat;
  if (f !== undefined && !isObj(f)) {
    r.error([...path, "logFormat"], "logFormat must be {text: ...} or {labels: {...}}");
    return undefined;
  }
  if (isObj(f) && typeof f.text === "string") return { name, path: p, logFormat: { text: f.text } };
  if (isObj(f) && f.labels !== undefined) {
    if (!isObj(f.labels)) {
      r.error([...path, "logFormat", "labels"], "labels must map JSON keys to Envoy format strings");
      return undefined;
    }
    return { name, path: p, logFormat: { labels: Object.fromEntries(Object.entries(f.labels).map(([k, x]) => [k, String(x)])) } };
  }
  return { name, path: p };
}

function extensionProviders(r: Reader, v: unknown, out: MeshConfigOverrides): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) return r.error(["extensionProviders"], "extensionProviders must be a list");
  const tracing: TracingProvider[] = [];
  const logs: AccessLogProvider[] = [];
  const names = new Set<string>();
  v.forEach((raw, i) => {
    const path = ["extensionProviders", i];
    if (!isObj(raw) || typeof raw.name !== "string" || raw.name === "") return r.error(path, "each provider needs a name");
    const name = raw.name;
    if (names.has(name.toLowerCase())) return r.error([...path, "name"], `provider name "${name}" is used twice`);
    names.add(name.toLowerCase());
    if (isObj(raw.opentelemetry)) {
      const p = openTelemetry(r, name, raw.opentelemetry, [...path, "opentelemetry"]);
      if (p) tracing.push(p);
    } else if (isObj(raw.zipkin)) {
      const p = zipkin(r, name, raw.zipkin, [...path, "zipkin"]);
      if (p) tracing.push(p);
    } else if (isObj(raw.envoyFileAccessLog)) {
      const p = fileAccessLog(r, name, raw.envoyFileAccessLog, [...path, "envoyFileAccessLog"]);
      if (p) logs.push(p);
    } else if (raw.prometheus !== undefined) {
      // Istio's Prometheus provider: Mizzen's sidecars serve Istio's standard metrics on :15090 anyway.
    } else {
      const kind = IGNORED_PROVIDER_KINDS.find((k) => raw[k] !== undefined);
      if (kind) r.warn(path, `provider "${name}" (${kind}) is not supported by Mizzen and is ignored (supported: opentelemetry, zipkin, envoyFileAccessLog)`);
      else r.error(path, `provider "${name}" names no provider type (opentelemetry, zipkin or envoyFileAccessLog)`);
    }
  });
  if (tracing.length) out.tracingProviders = tracing;
  if (logs.length) out.accessLogProviders = logs;
}

function defaultProviders(r: Reader, v: unknown, out: MeshConfigOverrides): void {
  if (v === undefined) return;
  if (!isObj(v)) return r.error(["defaultProviders"], "defaultProviders must be an object {tracing: [...]}");
  for (const k of Object.keys(v)) if (k !== "tracing") r.warn(["defaultProviders", k], `defaultProviders.${k} is ignored by Mizzen (only tracing is read)`);
  if (v.tracing === undefined) return;
  if (!Array.isArray(v.tracing) || v.tracing.some((n) => typeof n !== "string")) return r.error(["defaultProviders", "tracing"], "defaultProviders.tracing must be a list of provider names");
  const names = v.tracing as string[];
  names.forEach((n, i) => {
    if (!out.tracingProviders?.some((p) => p.name.toLowerCase() === n.toLowerCase())) r.warn(["defaultProviders", "tracing", i], `"${n}" is not an opentelemetry or zipkin provider in extensionProviders; no default tracing`);
  });
  if (names.length > 1) r.warn(["defaultProviders", "tracing"], `only the first provider ("${names[0]}") is used, as in Istio`);
  out.defaultTracingProviders = names;
}

function defaultConfig(r: Reader, v: unknown, out: MeshConfigOverrides): void {
  if (v === undefined) return;
  if (!isObj(v)) return r.error(["defaultConfig"], "defaultConfig must be an object");
  for (const k of Object.keys(v)) if (k !== "tracing") r.warn(["defaultConfig", k], `defaultConfig.${k} is ignored by Mizzen`);
  const t = v.tracing;
  if (t === undefined) return;
  if (!isObj(t)) return r.error(["defaultConfig", "tracing"], "defaultConfig.tracing must be an object {sampling: <percent>}");
  for (const k of Object.keys(t)) if (k !== "sampling") r.warn(["defaultConfig", "tracing", k], `defaultConfig.tracing.${k} is ignored by Mizzen (use extensionProviders and Telemetry)`);
  if (t.sampling === undefined) return;
  if (typeof t.sampling !== "number" || !Number.isFinite(t.sampling) || t.sampling < 0 || t.sampling > 100) {
    return r.error(["defaultConfig", "tracing", "sampling"], `sampling must be a percentage from 0.0 to 100.0, not ${JSON.stringify(t.sampling)}`);
  }
  out.tracingSampling = t.sampling;
}

/** Parses one mesh config text. Errors (severity "error") mean the file must not be used. */
export function parseMeshConfigText(text: string, file: string): { mesh: MeshConfigOverrides; errors: ConfigError[] } {
  const { docs, errors } = parseYamlDocuments(text, file);
  if (errors.length) return { mesh: {}, errors };
  if (docs.length > 1) return { mesh: {}, errors: [{ file, line: docs[1]!.line, field: "", message: "a mesh config file holds one YAML document (MeshConfig)", severity: "error" }] };
  const doc = docs[0];
  if (!doc) return { mesh: {}, errors: [] };
  const r = new Reader(doc);
  const v = doc.value;
  if (!isObj(v)) return { mesh: {}, errors: [{ file, line: doc.line, field: "", message: "a mesh config is a YAML map of MeshConfig fields (accessLogFile, extensionProviders, ...)", severity: "error" }] };
  const out: MeshConfigOverrides = {};
  for (const k of Object.keys(v)) if (!KNOWN_TOP.has(k)) r.warn([k], `${k} is not read by Mizzen and is ignored`);
  if (v.trustDomain !== undefined) r.warn(["trustDomain"], "trustDomain comes from `mizzen control --trust-domain`; this field is ignored");
  if (v.rootNamespace !== undefined) r.warn(["rootNamespace"], "rootNamespace comes from `mizzen control --root-namespace`; this field is ignored");
  if (v.accessLogFormat !== undefined) r.warn(["accessLogFormat"], "accessLogFormat is ignored; use an envoyFileAccessLog provider with logFormat");
  const logFile = r.str(v.accessLogFile, ["accessLogFile"], "accessLogFile");
  if (logFile !== undefined) out.accessLog = logFile !== "";
  if (v.accessLogEncoding !== undefined) {
    if (v.accessLogEncoding === "TEXT" || v.accessLogEncoding === "JSON") out.accessLogEncoding = v.accessLogEncoding;
    else r.error(["accessLogEncoding"], `accessLogEncoding is TEXT or JSON, not ${JSON.stringify(v.accessLogEncoding)}`);
  }
  if (v.enableTracing !== undefined) {
    if (typeof v.enableTracing === "boolean") out.enableTracing = v.enableTracing;
    else r.error(["enableTracing"], "enableTracing must be true or false");
  }
  const meshId = r.str(v.meshId, ["meshId"], "meshId");
  if (meshId) out.meshId = meshId;
  if (v.outboundTrafficPolicy !== undefined) {
    const mode = isObj(v.outboundTrafficPolicy) ? v.outboundTrafficPolicy.mode : undefined;
    if (mode === "ALLOW_ANY" || mode === "REGISTRY_ONLY") out.outboundTrafficPolicy = { mode };
    else r.error(["outboundTrafficPolicy", "mode"], "outboundTrafficPolicy.mode is ALLOW_ANY or REGISTRY_ONLY");
  }
  extensionProviders(r, v.extensionProviders, out);
  defaultProviders(r, v.defaultProviders, out);
  defaultConfig(r, v.defaultConfig, out);
  if (out.enableTracing === true && !out.defaultTracingProviders?.length && !out.tracingProviders?.length) {
    r.warn(["enableTracing"], "enableTracing alone traces nothing in Mizzen (there is no bootstrap tracer): define an opentelemetry or zipkin provider and name it in defaultProviders.tracing or a Telemetry");
  }
  return { mesh: out, errors: r.issues };
}
