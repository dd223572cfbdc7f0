// Telemetry metrics -> Istio's istio.stats filter on a sidecar: an HTTP filter (before the
// router) on its HTTP connection managers, a network filter before each tcp_proxy. Its
// config is Istio's stats.PluginConfig in a TypedStruct, as Istio's control plane sends it.
//
// The levels apply as Istio merges them (pilot's mergeMetrics): root-namespace Telemetry
// without selector < namespace Telemetry without selector < Telemetry whose selector matches
// the workload, and within a level the metrics list in order. The providers of the most
// specific entry that names any decide which providers are in scope; the built-in one is
// "prometheus" (Istio's defaultProviders.metrics). Each override applies to the directions
// its match.mode names (default both): disabled: true with no metric (or ALL_METRICS) turns
// that direction off until a later override names a metric there; otherwise it sets
// disabled and merges tagOverrides (by tag) per metric.
//
// No Telemetry with metrics for a workload: no filter, and the proxy reports Istio's
// defaults. A direction with metrics off gets a filter dropping every metric (Istio leaves
// the filter out instead; for the Mizzen proxy an absent filter means "defaults").
// UPSERT values the proxy cannot evaluate are left out (the tag keeps Istio's default);
// `mizzen validate` and the control plane warn about them with file and line
// (src/api/semantic/telemetry-metrics.ts).
import type { ConfigObject } from "../api/types.ts";
import type { HttpConnectionManager, NetworkFilter } from "../xds/envoy-types.ts";
import { toStruct } from "../xds/struct.ts";
import type { ViewInput } from "./input.ts";
import { levels, type TelemetryProxyView } from "./telemetry.ts";
import { ISTIO_METRIC_NAMES, supportedTagValue, validTagName } from "../api/semantic/telemetry-metrics.ts";

export type MetricsMode = "CLIENT" | "SERVER";

export const STATS_FILTER_NAME = "istio.stats";
export const TYPED_STRUCT_TYPE = "type.googleapis.com/udpa.type.v1.TypedStruct";
export const STATS_CONFIG_TYPE = "type.googleapis.com/stats.PluginConfig";
/** Istio's built-in Prometheus provider, the default metrics provider. */
export const PROMETHEUS_PROVIDER = "prometheus";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

interface TagOverride { operation: "REMOVE" | "UPSERT"; value: string | undefined }
interface MetricOverride { disabled: boolean | undefined; tags: Map<string, TagOverride> }

/** One direction's metrics after every level: off, or on with per-metric overrides. */
export interface MetricsDecision {
  /** Some Telemetry configured metrics for this workload (else: no filter, Istio's defaults). */
  configured: boolean;
  disabled: boolean;
  /** By Istio metric name (REQUEST_COUNT, ...), sorted. */
  overrides: { metric: string; disabled: boolean; tags: { tag: string; operation: "REMOVE" | "UPSERT"; value: string | undefined }[] }[];
}

function modesOf(mode: unknown): MetricsMode[] {
  return mode === "CLIENT" || mode === "SERVER" ? [mode] : ["CLIENT", "SERVER"];
}

function providerNames(entry: Obj): string[] {
  return list(entry.providers).map((p) => String(obj(p).name ?? "")).filter((n) => n !== "");
}

/** Istio's metric names an override selects; undefined: all of them. */
function selected(match: Obj): string[] | undefined {
  if (typeof match.customMetric === "string" && match.customMetric !== "") return [match.customMetric];
  const m = match.metric;
  if (m === undefined || m === "ALL_METRICS") return undefined;
  return [String(m)];
}

/** The metrics config of one workload and direction, merged over the Telemetry levels. */
export function metricsDecision(input: ViewInput<TelemetryProxyView>, mode: MetricsMode): MetricsDecision {
  const applied: ConfigObject[] = levels(input.objects, input.proxy, input.mesh);
  const entries = applied.flatMap((o) => list(o.spec.metrics).map(obj));
  if (entries.length === 0) return { configured: false, disabled: false, overrides: [] };
  // The most specific entry naming providers decides which are in scope.
  let inScope = [PROMETHEUS_PROVIDER];
  for (const e of entries) if (providerNames(e).length > 0) inScope = providerNames(e);
  let parent = [PROMETHEUS_PROVIDER];
  let disabledAll = false;
  const perMetric = new Map<string, MetricOverride>();
  for (const e of entries) {
    const names = providerNames(e).length > 0 ? providerNames(e) : parent;
    parent = names;
    if (!names.includes(PROMETHEUS_PROVIDER) || !inScope.includes(PROMETHEUS_PROVIDER)) continue;
    for (const o of list(e.overrides).map(obj)) {
      const match = obj(o.match);
      if (!modesOf(match.mode).includes(mode)) continue;
      const metrics = selected(match);
      const disabled = typeof o.disabled === "boolean" ? o.disabled : undefined;
      if (metrics === undefined && disabled === true) {
        disabledAll = true;
        continue;
      }
      // Root disables all, a namespace then enables some: naming metrics turns the direction back on.
      disabledAll = false;
      for (const m of metrics ?? ISTIO_METRIC_NAMES) {
        const cur = perMetric.get(m) ?? { disabled: undefined, tags: new Map() };
        if (disabled !== undefined) cur.disabled = disabled;
        for (const [tag, raw] of Object.entries(obj(o.tagOverrides))) {
          const t = obj(raw);
          cur.tags.set(tag, { operation: t.operation === "REMOVE" ? "REMOVE" : "UPSERT", value: typeof t.value === "string" ? t.value : undefined });
        }
        perMetric.set(m, cur);
      }
    }
  }
  if (!inScope.includes(PROMETHEUS_PROVIDER)) return { configured: true, disabled: true, overrides: [] };
  if (disabledAll) return { configured: true, disabled: true, overrides: [] };
  const overrides = [...perMetric].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([metric, o]) => ({
    metric,
    disabled: o.disabled === true,
    tags: [...o.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tag, t]) => ({ tag, ...t })),
  }));
  return { configured: true, disabled: false, overrides };
}

/** Istio's PluginConfig for a decision (snake_case JSON, the proto's field names). */
export function pluginConfig(d: MetricsDecision): Obj {
  if (d.disabled) return { metrics: [{ drop: true }] };
  const metrics: Obj[] = [];
  for (const o of d.overrides) {
    const name = ISTIO_PROMETHEUS_NAMES[o.metric];
    if (!name) continue; // a custom metric: warned about, nothing to change
    const tags = o.tags.filter((t) => validTagName(t.tag));
    const remove = tags.filter((t) => t.operation === "REMOVE").map((t) => t.tag);
    const dimensions: Record<string, string> = {};
    for (const t of tags) if (t.operation === "UPSERT" && t.value !== undefined && supportedTagValue(t.value)) dimensions[t.tag] = t.value.trim();
    if (!o.disabled && remove.length === 0 && Object.keys(dimensions).length === 0) continue;
    metrics.push({
      name,
      ...(o.disabled ? { drop: true } : {}),
      ...(remove.length ? { tags_to_remove: remove } : {}),
      ...(Object.keys(dimensions).length ? { dimensions } : {}),
    });
  }
  return metrics.length ? { metrics } : {};
}

/** Istio's enum name -> the Prometheus name without istio_ (pilot's metricToPrometheusMetric). */
const ISTIO_PROMETHEUS_NAMES: Readonly<Record<string, string>> = {
  REQUEST_COUNT: "requests_total",
  REQUEST_DURATION: "request_duration_milliseconds",
  REQUEST_SIZE: "request_bytes",
  RESPONSE_SIZE: "response_bytes",
  TCP_OPENED_CONNECTIONS: "tcp_connections_opened_total",
  TCP_CLOSED_CONNECTIONS: "tcp_connections_closed_total",
  TCP_SENT_BYTES: "tcp_sent_bytes_total",
  TCP_RECEIVED_BYTES: "tcp_received_bytes_total",
  GRPC_REQUEST_MESSAGES: "request_messages_total",
  GRPC_RESPONSE_MESSAGES: "response_messages_total",
};

function statsTypedConfig(d: MetricsDecision): { "@type": string } & Obj {
  return { "@type": TYPED_STRUCT_TYPE, type_url: STATS_CONFIG_TYPE, value: toStruct(pluginConfig(d)) };
}

/** The istio.stats HTTP filter for one direction (goes before the router); empty when no Telemetry configures metrics. */
export function statsHttpFilters(input: ViewInput<TelemetryProxyView>, mode: MetricsMode): HttpConnectionManager["http_filters"] {
  const d = metricsDecision(input, mode);
  return d.configured ? [{ name: STATS_FILTER_NAME, typed_config: statsTypedConfig(d) }] : [];
}

/** The istio.stats network filter for one direction (goes before the tcp_proxy); empty when no Telemetry configures metrics. */
export function statsNetworkFilters(input: ViewInput<TelemetryProxyView>, mode: MetricsMode): NetworkFilter[] {
  const d = metricsDecision(input, mode);
  // NetworkFilter's type names only the HCM (see tcpProxyFilter); on the wire it is an Any.
  return d.configured ? [{ name: STATS_FILTER_NAME, typed_config: statsTypedConfig(d) as unknown as NetworkFilter["typed_config"] }] : [];
}
