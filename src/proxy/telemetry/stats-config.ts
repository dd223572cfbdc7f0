// The istio.stats filter (Istio's stats.PluginConfig, carried in a TypedStruct as Istio's
// control plane sends it) -> what the standard metrics do on one listener: metrics dropped,
// tags removed, tags set. It sits in an HTTP connection manager's http_filters or before a
// tcp_proxy in a chain's network filters. No filter at all means Istio's defaults.
//
// PluginConfig.metrics is an ordered list; an entry without a name applies to every metric.
// Tag values (dimensions) are CEL in Istio; the proxy evaluates the forms the control plane
// lets through: a quoted literal ('v1' or "v1"), request.headers['x-name'], request.host,
// request.method, request.path. Anything else is refused (NACK), never silently ignored.
import { fromStruct, type Json } from "../../xds/struct.ts";
import type { Struct } from "../../xds/envoy-types.ts";
import { ConfigInvalid } from "../state/string-match.ts";

export const STATS_FILTER_NAME = "istio.stats";
export const STATS_CONFIG_TYPE_URL = "type.googleapis.com/stats.PluginConfig";
const TYPED_STRUCT_URLS = new Set(["type.googleapis.com/udpa.type.v1.TypedStruct", "type.googleapis.com/xds.type.v3.TypedStruct"]);

/** Istio's metric names without the istio_ prefix, as PluginConfig names them; index = slot. */
export const HTTP_METRICS = ["requests_total", "request_duration_milliseconds", "request_bytes", "response_bytes"] as const;
export const TCP_METRICS = ["tcp_sent_bytes_total", "tcp_received_bytes_total", "tcp_connections_opened_total", "tcp_connections_closed_total"] as const;
/** Istio's gRPC message counters: accepted in config, not produced by the Mizzen proxy. */
const OTHER_METRICS = new Set(["request_messages_total", "response_messages_total"]);

export type TagSource =
  | { kind: "literal"; value: string }
  | { kind: "header"; name: string }
  | { kind: "request"; field: "host" | "method" | "path" };

export interface TagRule {
  tag: string;
  /** REMOVE; otherwise the tag is set (added or replaced) to `source`'s value. */
  remove: boolean;
  source: TagSource | undefined;
  /** Index into CompiledStatsConfig.dynamic when the value depends on the request. */
  dynamic: number;
}

export interface MetricRules {
  drop: boolean;
  rules: readonly TagRule[];
}

export interface CompiledStatsConfig {
  /** Equal content, equal id (interned): series survive a snapshot swap that changed nothing here. */
  id: number;
  /** Per metric in HTTP_METRICS / TCP_METRICS order; undefined = Istio's default labels. */
  http: readonly (MetricRules | undefined)[];
  tcp: readonly (MetricRules | undefined)[];
  /** Every HTTP (TCP) metric is dropped: the reporter does no work at all. */
  httpOff: boolean;
  tcpOff: boolean;
  /** The request-dependent tag values, read once per request and part of its series key. */
  dynamic: readonly TagSource[];
}

const ids = new Map<string, number>();

function internId(canonical: string): number {
  let id = ids.get(canonical);
  if (id === undefined) {
    id = ids.size + 1;
    ids.set(canonical, id);
  }
  return id;
}

/** Is this http_filters / network filters entry the stats filter? */
export function isStatsFilter(f: { name?: string; typed_config?: unknown } | undefined): boolean {
  if (!f) return false;
  const typed = f.typed_config as { "@type"?: string; type_url?: unknown } | undefined;
  const type = typed?.["@type"];
  if (type === STATS_CONFIG_TYPE_URL) return true;
  if (type !== undefined && TYPED_STRUCT_URLS.has(type)) return typed?.type_url === STATS_CONFIG_TYPE_URL;
  return type === undefined && f.name === STATS_FILTER_NAME;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One dimension value (CEL text) -> where its value comes from; undefined when unsupported. */
export function parseTagValue(expr: string): TagSource | undefined {
  const e = expr.trim();
  const literal = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(e);
  if (literal) return { kind: "literal", value: literal[1] ?? literal[2]! };
  const header = /^request\.headers\[\s*(?:'([^'\\]+)'|"([^"\\]+)")\s*\]$/.exec(e);
  if (header) return { kind: "header", name: (header[1] ?? header[2]!).toLowerCase() };
  const field = /^request\.(host|method|path)$/.exec(e);
  if (field) return { kind: "request", field: field[1] as "host" | "method" | "path" };
  return undefined;
}

type Obj = Record<string, Json>;
const isObj = (v: Json | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The PluginConfig as JSON: the TypedStruct's value, or the Any's own fields. */
function pluginConfig(typed: Record<string, unknown>, field: string): Obj {
  if (TYPED_STRUCT_URLS.has(String(typed["@type"]))) {
    const v = typed.value as Struct | undefined;
    if (v !== undefined && (typeof v !== "object" || v === null)) throw new ConfigInvalid(`${field}.value`, "must be a Struct holding a stats.PluginConfig");
    return fromStruct(v);
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(typed)) if (k !== "@type") out[k] = v as Json;
  return out;
}

/** PluginConfig fields are read in proto JSON form: snake_case or lowerCamelCase. */
function get(o: Obj, snake: string): Json | undefined {
  if (o[snake] !== undefined) return o[snake];
  return o[snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())];
}

interface Entry { names: Set<string> | undefined; drop: boolean; rules: Omit<TagRule, "dynamic">[] }

function compileEntry(raw: Json, field: string): Entry {
  if (!isObj(raw)) throw new ConfigInvalid(field, "each metrics entry must be an object");
  const match = get(raw, "match");
  if (typeof match === "string" && match.trim() !== "") throw new ConfigInvalid(`${field}.match`, "conditional metric overrides (match) are not supported by the Mizzen proxy");
  const name = get(raw, "name");
  if (name !== undefined && typeof name !== "string") throw new ConfigInvalid(`${field}.name`, "must be a metric name");
  const names = name ? new Set([name]) : undefined;
  if (name && !(HTTP_METRICS as readonly string[]).includes(name) && !(TCP_METRICS as readonly string[]).includes(name) && !OTHER_METRICS.has(name)) {
    throw new ConfigInvalid(`${field}.name`, `"${name}" is not one of Istio's standard metrics (custom metrics are not supported by the Mizzen proxy)`);
  }
  const rules: Omit<TagRule, "dynamic">[] = [];
  const remove = get(raw, "tags_to_remove") ?? [];
  if (!Array.isArray(remove)) throw new ConfigInvalid(`${field}.tags_to_remove`, "must be a list of tag names");
  remove.forEach((t, i) => {
    if (typeof t !== "string" || !LABEL_NAME.test(t)) throw new ConfigInvalid(`${field}.tags_to_remove[${i}]`, `${JSON.stringify(t)} is not a tag name`);
    rules.push({ tag: t, remove: true, source: undefined });
  });
  const dims = get(raw, "dimensions") ?? {};
  if (!isObj(dims)) throw new ConfigInvalid(`${field}.dimensions`, "must be a map of tag name to value expression");
  for (const tag of Object.keys(dims).sort()) {
    const expr = dims[tag];
    if (!LABEL_NAME.test(tag)) throw new ConfigInvalid(`${field}.dimensions`, `"${tag}" is not a Prometheus label name`);
    if (typeof expr !== "string") throw new ConfigInvalid(`${field}.dimensions.${tag}`, "must be an expression string");
    const source = parseTagValue(expr);
    if (!source) throw new ConfigInvalid(`${field}.dimensions.${tag}`, `expression ${JSON.stringify(expr)} is not supported (use a quoted literal, request.headers['name'], request.host, request.method or request.path)`);
    rules.push({ tag, remove: false, source });
  }
  return { names, drop: get(raw, "drop") === true, rules };
}

function sourceKey(s: TagSource): string {
  return s.kind === "literal" ? "" : s.kind === "header" ? `h:${s.name}` : `r:${s.field}`;
}

/** An istio.stats filter's typed_config -> compiled overrides. Throws ConfigInvalid for what it cannot honour. */
export function compileStatsConfig(typed: Record<string, unknown> | undefined, field: string): CompiledStatsConfig {
  if (typed === undefined || typed === null || typeof typed !== "object") throw new ConfigInvalid(field, "the istio.stats filter needs a typed_config (stats.PluginConfig)");
  const cfg = pluginConfig(typed, field);
  const defs = get(cfg, "definitions");
  if (Array.isArray(defs) && defs.length > 0) throw new ConfigInvalid(`${field}.definitions`, "custom metric definitions are not supported by the Mizzen proxy");
  const list = get(cfg, "metrics") ?? [];
  if (!Array.isArray(list)) throw new ConfigInvalid(`${field}.metrics`, "must be a list");
  const entries = list.map((e, i) => compileEntry(e, `${field}.metrics[${i}]`));
  const dynamic: TagSource[] = [];
  const dynamicIndex = new Map<string, number>();
  const rulesFor = (metric: string): MetricRules | undefined => {
    let drop = false;
    const rules: TagRule[] = [];
    let touched = false;
    for (const e of entries) {
      if (e.names && !e.names.has(metric)) continue;
      touched = true;
      drop ||= e.drop;
      for (const r of e.rules) {
        let d = -1;
        if (r.source && r.source.kind !== "literal") {
          const k = sourceKey(r.source);
          d = dynamicIndex.get(k) ?? -1;
          if (d < 0) {
            d = dynamic.push(r.source) - 1;
            dynamicIndex.set(k, d);
          }
        }
        rules.push({ ...r, dynamic: d });
      }
    }
    return touched ? { drop, rules } : undefined;
  };
  const http = HTTP_METRICS.map(rulesFor);
  const tcp = TCP_METRICS.map(rulesFor);
  const canonical = JSON.stringify([http, tcp, dynamic]);
  return {
    id: internId(canonical),
    http,
    tcp,
    httpOff: http.every((m) => m?.drop === true),
    tcpOff: tcp.every((m) => m?.drop === true),
    dynamic,
  };
}
