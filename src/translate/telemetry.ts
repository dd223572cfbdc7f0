// Telemetry accessLogging -> the access_log of a sidecar's HTTP connection managers.
//
// For one workload and one direction (CLIENT = outbound listener, SERVER = inbound ones) the
// levels apply in Istio's order, each overriding what it says: meshConfig (--access-log, the
// "envoy" provider) < root-namespace Telemetry without selector (mesh-wide) < Telemetry without
// selector in the workload's namespace < Telemetry whose selector matches the workload's labels.
// An accessLogging entry counts for the directions its match.mode names (default both); it
// turns logging on (or off with disabled: true), and replaces the providers and the filter
// when it names them. Telemetry with targetRefs targets gateways and waypoints: not sidecars.
// Several objects at one level: the first by name wins (Istio: the oldest).
import type { ConfigError, ConfigObject } from "../api/types.ts";
import { TYPE, type AccessLog, type AccessLogFilter, type StructValue } from "../xds/envoy-types.ts";
import { warnAbout, type SharedInput, type ViewInput } from "./input.ts";
import type { AccessLogProvider, MeshConfig } from "./mesh-config.ts";
import { compileFilterExpression, FilterUnsupported } from "./telemetry-filter.ts";

export type AccessLogMode = "CLIENT" | "SERVER";

/** What access logging reads of a proxy: its namespace and the labels Telemetry selectors name. */
export interface TelemetryProxyView {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** Istio's default text line (EnvoyTextLogFormat). */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% ' +
  '%CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" ' +
  '"%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ' +
  "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/** Istio's default JSON keys (a provider with `logFormat: {labels: {}}`, or accessLogEncoding JSON). */
export const ISTIO_JSON_LABELS: Readonly<Record<string, string>> = {
  start_time: "%START_TIME%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  protocol: "%PROTOCOL%",
  response_code: "%RESPONSE_CODE%",
  response_flags: "%RESPONSE_FLAGS%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  connection_termination_details: "%CONNECTION_TERMINATION_DETAILS%",
  upstream_transport_failure_reason: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration: "%DURATION%",
  upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  x_forwarded_for: "%REQ(X-FORWARDED-FOR)%",
  user_agent: "%REQ(USER-AGENT)%",
  request_id: "%REQ(X-REQUEST-ID)%",
  authority: "%REQ(:AUTHORITY)%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_cluster: "%UPSTREAM_CLUSTER_RAW%",
  upstream_local_address: "%UPSTREAM_LOCAL_ADDRESS%",
  downstream_local_address: "%DOWNSTREAM_LOCAL_ADDRESS%",
  downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%",
  requested_server_name: "%REQUESTED_SERVER_NAME%",
  route_name: "%ROUTE_NAME%",
};

const BUILTIN_PROVIDER = "envoy";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function matchLabels(o: ConfigObject): Record<string, string> | undefined {
  const sel = o.spec.selector;
  if (sel === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(obj(sel).matchLabels))) out[k] = String(v);
  return out;
}

const telemetries = (objects: readonly ConfigObject[]): ConfigObject[] =>
  objects.filter((o) => o.kind === "Telemetry" && list(o.spec.targetRefs).length === 0 && o.spec.targetRef === undefined)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));

/** Label keys Telemetry selectors name: the only labels that reach the listener view. */
export function telemetryLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of telemetries(objects)) for (const k of Object.keys(matchLabels(o) ?? {})) keys.add(k);
  return keys;
}

/** The Telemetry objects that apply to the proxy, least specific first (root, namespace, workload). */
export function levels(objects: readonly ConfigObject[], p: TelemetryProxyView, mesh: MeshConfig): ConfigObject[] {
  const ts = telemetries(objects);
  const root = ts.find((o) => o.metadata.namespace === mesh.rootNamespace && matchLabels(o) === undefined);
  const ns = p.namespace === mesh.rootNamespace ? undefined : ts.find((o) => o.metadata.namespace === p.namespace && matchLabels(o) === undefined);
  const workload = ts.find((o) => {
    const sel = o.metadata.namespace === p.namespace ? matchLabels(o) : undefined;
    return sel !== undefined && Object.entries(sel).every(([k, v]) => p.labels[k] === v);
  });
  return [root, ns, workload].filter((o): o is ConfigObject => o !== undefined);
}
/** The same levels for other Telemetry sections (tracing: telemetry-tracing.ts). */
export const telemetryLevels = levels;

interface Decision {
  on: boolean;
  providers: string[];
  filter: string | undefined;
}

/** Whether and how the proxy logs in one direction, after every applicable level. */
export function accessLogDecision(input: ViewInput<TelemetryProxyView>, mode: AccessLogMode): Decision {
  const d: Decision = { on: input.mesh.accessLog, providers: [BUILTIN_PROVIDER], filter: undefined };
  for (const o of levels(input.objects, input.proxy, input.mesh)) {
    for (const entry of list(o.spec.accessLogging).map(obj)) {
      const m = String(obj(entry.match).mode ?? "CLIENT_AND_SERVER");
      if (m !== "CLIENT_AND_SERVER" && m !== mode) continue;
      const names = list(entry.providers).map((p) => String(obj(p).name ?? "")).filter((n) => n !== "");
      if (names.length > 0) d.providers = names;
      const expr = obj(entry.filter).expression;
      if (typeof expr === "string" && expr.trim() !== "") d.filter = expr;
      d.on = entry.disabled !== true;
    }
  }
  return d;
}

function filterFor(expression: string | undefined): AccessLogFilter | undefined {
  if (expression === undefined) return undefined;
  try {
    return compileFilterExpression(expression);
  } catch (err) {
    if (err instanceof FilterUnsupported) return undefined; // reported by telemetryWarnings(); logs stay unfiltered
    throw err;
  }
}

function jsonFormat(labels: Readonly<Record<string, string>>): { fields: Record<string, StructValue> } {
  const use = Object.keys(labels).length > 0 ? labels : ISTIO_JSON_LABELS;
  const fields: Record<string, StructValue> = {};
  for (const k of Object.keys(use).sort()) fields[k] = { string_value: use[k]! };
  return { fields };
}

function providerFor(name: string, mesh: MeshConfig): AccessLogProvider | undefined {
  if (name === BUILTIN_PROVIDER) {
    return { name, path: "/dev/stdout", ...(mesh.accessLogEncoding === "JSON" ? { logFormat: { labels: {} } } : {}) };
  }
  return mesh.accessLogProviders?.find((p) => p.name === name);
}

function fileAccessLog(provider: AccessLogProvider, filter: AccessLogFilter | undefined): AccessLog {
  const f = provider.logFormat;
  const logFormat = f && "labels" in f ? { json_format: jsonFormat(f.labels) } : { text_format_source: { inline_string: f?.text ?? ISTIO_TEXT_FORMAT } };
  return {
    name: "envoy.access_loggers.file",
    ...(filter ? { filter } : {}),
    typed_config: { "@type": TYPE.fileAccessLog, path: provider.path, log_format: logFormat },
  };
}

/** The HCM access_log for one direction of a sidecar (empty when logging is off there). */
export function accessLogsFor(input: ViewInput<TelemetryProxyView>, mode: AccessLogMode): AccessLog[] {
  const d = accessLogDecision(input, mode);
  if (!d.on) return [];
  const filter = filterFor(d.filter);
  const out: AccessLog[] = [];
  for (const name of d.providers) {
    const provider = providerFor(name, input.mesh);
    if (provider) out.push(fileAccessLog(provider, filter)); // unknown providers: see telemetryWarnings()
  }
  return out;
}

/**
 * Telemetry access-logging config that is kept but cannot act as written: filter expressions
 * outside the supported forms (logged unfiltered), providers the mesh does not define, and
 * targetRefs (not applied to sidecars). Independent of proxies: check once per config version.
 */
export function telemetryWarnings(input: Pick<SharedInput, "objects" | "mesh">): ConfigError[] {
  const sink: ConfigError[] = [];
  for (const o of input.objects) {
    if (o.kind !== "Telemetry") continue;
    if (list(o.spec.targetRefs).length > 0 || o.spec.targetRef !== undefined) {
      warnAbout(sink, o, "spec.targetRefs", "Telemetry with targetRefs applies to gateways and waypoints, not to sidecars; Mizzen ignores it (use spec.selector)");
    }
    list(o.spec.accessLogging).map(obj).forEach((entry, i) => {
      const expr = obj(entry.filter).expression;
      if (typeof expr === "string" && expr.trim() !== "") {
        try {
          compileFilterExpression(expr);
        } catch (err) {
          if (!(err instanceof FilterUnsupported)) throw err;
          warnAbout(sink, o, `spec.accessLogging[${i}].filter.expression`,
            `unsupported filter ${JSON.stringify(expr)}: ${err.message}; these access logs are written unfiltered (supported: response.code <op> N, response.flags != "-", response.flags == "UH", request.method == "GET", joined with && and ||)`);
        }
      }
      list(entry.providers).forEach((p, j) => {
        const name = String(obj(p).name ?? "");
        if (!providerFor(name, input.mesh)) {
          warnAbout(sink, o, `spec.accessLogging[${i}].providers[${j}].name`, `access log provider "${name}" is not defined (use "envoy" or add it to meshConfig.extensionProviders with envoyFileAccessLog)`);
        }
      });
    });
  }
  return sink;
}
