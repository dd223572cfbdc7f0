// Telemetry spec.metrics: what Mizzen can honour, and a warning (file:line, the object kept)
// for the rest. The Mizzen proxy evaluates a tag value (Istio: a CEL expression) only in these
// forms: a quoted literal ('v1'), request.headers['name'], request.host, request.method,
// request.path. Other values are left out, so the tag keeps Istio's default value.
import type { Issues, Obj } from "./checks.ts";
import { isObj, list, obj } from "./checks.ts";

/** Istio's MetricSelector.IstioMetric names, without ALL_METRICS. */
export const ISTIO_METRIC_NAMES: readonly string[] = [
  "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE",
  "TCP_CLOSED_CONNECTIONS", "TCP_OPENED_CONNECTIONS", "TCP_RECEIVED_BYTES", "TCP_SENT_BYTES",
];

const LITERAL = /^\s*(?:'[^'\\]*'|"[^"\\]*")\s*$/;
const HEADER = /^\s*request\.headers\[\s*(?:'[^'\\]+'|"[^"\\]+")\s*\]\s*$/;
const REQUEST_FIELD = /^\s*request\.(?:host|method|path)\s*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A tagOverrides value the proxy evaluates. */
export function supportedTagValue(expr: string): boolean {
  return LITERAL.test(expr) || HEADER.test(expr) || REQUEST_FIELD.test(expr);
}

/** A tag name Prometheus accepts as a label name. */
export function validTagName(tag: string): boolean {
  return LABEL_NAME.test(tag);
}

function checkOverride(o: Obj, at: (string | number)[], out: Issues): void {
  const match = obj(o.match);
  if (typeof match.customMetric === "string" && match.customMetric !== "") {
    out.warn([...at, "match", "customMetric"], `custom metric "${match.customMetric}" is not produced by the Mizzen proxy; this override has no effect (use one of Istio's standard metrics)`);
  }
  if (!isObj(o.tagOverrides)) return;
  for (const [tag, raw] of Object.entries(o.tagOverrides)) {
    const t = obj(raw);
    if (!validTagName(tag)) {
      out.warn([...at, "tagOverrides", tag], `"${tag}" is not a Prometheus label name (letters, digits, underscores; not starting with a digit); this override is left out`);
      continue;
    }
    if (t.operation === "REMOVE") continue;
    const value = t.value;
    if (typeof value !== "string" || value.trim() === "") {
      out.warn([...at, "tagOverrides", tag, "value"], "UPSERT needs a value; the tag keeps Istio's default");
      continue;
    }
    if (!supportedTagValue(value)) {
      const hint = /^[A-Za-z0-9_.-]+$/.test(value) && !value.startsWith("request.") ? ` (a literal is quoted: "'${value}'")` : "";
      out.warn([...at, "tagOverrides", tag, "value"],
        `the Mizzen proxy cannot evaluate ${JSON.stringify(value)}${hint}; the tag keeps Istio's default (supported: 'literal', request.headers['name'], request.host, request.method, request.path)`);
    }
  }
}

/** Warnings for spec.metrics of one Telemetry object. */
export function checkTelemetryMetrics(spec: Obj, out: Issues): void {
  list(spec.metrics).forEach((m, i) => {
    const entry = obj(m);
    list(entry.providers).forEach((p, j) => {
      const name = obj(p).name;
      if (name !== "prometheus") {
        out.warn(["spec", "metrics", i, "providers", j, "name"], `metrics provider "${String(name)}" is not supported by Mizzen (only the built-in "prometheus"); with no other provider in scope, this workload's metrics are off`);
      }
    });
    list(entry.overrides).forEach((o, j) => checkOverride(obj(o), ["spec", "metrics", i, "overrides", j], out));
  });
}
