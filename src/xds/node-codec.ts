// ProxyNode <-> Envoy's Node message (envoy.config.core.v3.Node, object form). Our sidecar
// sends every field; other clients (Envoy with Istio's bootstrap, @grpc/grpc-js-xds with the
// user's bootstrap file) send what they send, so reading is forgiving: Istio's id form
// "type~ip~name.ns~ns.svc.cluster.local" fills what metadata leaves out, and everything else
// falls back to a default. Reading never throws.
import { META, type ProxyNode, type ProxyType, type WorkloadPort } from "./node.ts";
import { fromStruct, toStruct, type Json } from "./struct.ts";
import type { Struct } from "./envoy-types.ts";

export const USER_AGENT = "mizzen";

export interface EnvoyNode {
  id?: string;
  cluster?: string;
  metadata?: Struct;
  user_agent_name?: string;
  user_agent_version?: string;
  [field: string]: unknown;
}

export function nodeToEnvoy(node: ProxyNode): EnvoyNode {
  const meta: Record<string, unknown> = {
    [META.name]: node.name,
    [META.namespace]: node.namespace,
    [META.labels]: node.labels,
    [META.serviceAccount]: node.serviceAccount,
    [META.instanceIps]: node.ip,
    [META.podPorts]: JSON.stringify(node.ports),
    [META.interceptionMode]: node.interceptionMode,
    [META.appAddress]: node.appAddress,
    [META.autoRegister]: node.autoRegister ? "true" : "false",
  };
  if (node.healthReporting) meta[META.healthReporting] = "true";
  if (node.type === "grpc") meta[META.generator] = "grpc";
  if (node.proxyVersion) meta[META.proxyVersion] = node.proxyVersion;
  if (node.metricsPort !== undefined) meta[META.metricsPort] = String(node.metricsPort);
  const out: EnvoyNode = { id: node.id, cluster: `${node.name}.${node.namespace}`, metadata: toStruct(meta), user_agent_name: USER_AGENT };
  if (node.proxyVersion) out.user_agent_version = node.proxyVersion;
  return out;
}

interface IdParts { type?: string; ip?: string; name?: string; namespace?: string }

/** Istio's "type~ip~name.ns~ns.svc.cluster.local"; any other id gives no parts. */
export function parseIstioId(id: string): IdParts {
  const parts = id.split("~");
  if (parts.length !== 4) return {};
  const [type, ip, podAndNs, domain] = parts as [string, string, string, string];
  const nsFromDomain = domain.split(".")[0] || undefined;
  const dot = podAndNs.lastIndexOf(".");
  const namespace = nsFromDomain ?? (dot > 0 ? podAndNs.slice(dot + 1) : undefined);
  let name = podAndNs;
  if (namespace && podAndNs.endsWith(`.${namespace}`)) name = podAndNs.slice(0, -namespace.length - 1);
  else if (dot > 0) name = podAndNs.slice(0, dot);
  return { type: type || undefined, ip: ip || undefined, name: name || undefined, namespace };
}

function str(v: Json | undefined): string | undefined {
  if (typeof v === "string") return v || undefined;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function labelsFrom(v: Json | undefined): Record<string, string> {
  let value = v;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as Json;
    } catch {
      return {};
    }
  }
  const out: Record<string, string> = {};
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, x] of Object.entries(value)) {
      const s = str(x);
      if (s !== undefined) out[k] = s;
    }
  }
  return out;
}

function portsFrom(v: Json | undefined): WorkloadPort[] {
  let value = v;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as Json;
    } catch {
      return [];
    }
  }
  if (!Array.isArray(value)) return [];
  const out: WorkloadPort[] = [];
  for (const p of value) {
    if (!p || typeof p !== "object" || Array.isArray(p)) continue;
    const port = Number(p.containerPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    const wp: WorkloadPort = { name: str(p.name) ?? `port-${port}`, containerPort: port };
    const protocol = str(p.protocol);
    if (protocol) wp.protocol = protocol;
    out.push(wp);
  }
  return out;
}

function typeFrom(generator: string | undefined, idType: string | undefined): ProxyType {
  if (generator === "grpc" || idType === "grpc") return "grpc";
  if (idType === "router") return "router";
  return "sidecar";
}

function truthy(v: Json | undefined): boolean {
  return v === true || (typeof v === "string" && ["true", "1", "yes"].includes(v.toLowerCase()));
}

/** Best-effort ProxyNode from whatever Node a client sent; never throws. */
export function nodeFromEnvoy(envoyNode: unknown): ProxyNode {
  const n = (envoyNode && typeof envoyNode === "object" ? envoyNode : {}) as EnvoyNode;
  const id = typeof n.id === "string" ? n.id : "";
  const meta = fromStruct(n.metadata && typeof n.metadata === "object" ? n.metadata : undefined);
  const fromId = parseIstioId(id);
  const type = typeFrom(str(meta[META.generator]), fromId.type);
  const ips = meta[META.instanceIps];
  const ip = (Array.isArray(ips) ? str(ips[0]) : str(ips)?.split(",")[0]?.trim()) || fromId.ip || "";
  const clusterName = typeof n.cluster === "string" ? n.cluster : "";
  const namespace = str(meta[META.namespace]) ?? fromId.namespace ?? "default";
  const name = str(meta[META.name]) ?? fromId.name ?? (clusterName.split(".")[0] || undefined) ?? (id || "unknown");
  const mode = str(meta[META.interceptionMode]);
  const agent = typeof n.user_agent_name === "string" ? n.user_agent_name : "";
  const agentVersion = typeof n.user_agent_version === "string" ? n.user_agent_version : "";
  const node: ProxyNode = {
    id,
    type,
    ip,
    name,
    namespace,
    labels: labelsFrom(meta[META.labels]),
    serviceAccount: str(meta[META.serviceAccount]) ?? "default",
    ports: portsFrom(meta[META.podPorts]),
    appAddress: type === "grpc" ? "" : (str(meta[META.appAddress]) ?? ""),
    interceptionMode: mode === "REDIRECT" ? "REDIRECT" : "NONE",
    autoRegister: truthy(meta[META.autoRegister]),
  };
  if (truthy(meta[META.healthReporting])) node.healthReporting = true;
  const version = str(meta[META.proxyVersion]) ?? (agent ? `${agent}${agentVersion ? ` ${agentVersion}` : ""}` : undefined);
  if (version) node.proxyVersion = version;
  const metricsPort = Number(str(meta[META.metricsPort]) ?? NaN);
  if (Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535) node.metricsPort = metricsPort;
  return node;
}

/** Like nodeFromEnvoy, but reports a node the server cannot serve (absent, or without id). */
export function readEnvoyNode(envoyNode: unknown): { node: ProxyNode } | { error: string } {
  if (!envoyNode || typeof envoyNode !== "object") {
    return { error: "the first DiscoveryRequest on a stream carries no node; set node.id (and metadata) in the client's bootstrap" };
  }
  const id = (envoyNode as EnvoyNode).id;
  if (typeof id !== "string" || id.trim() === "") {
    return { error: "the node has no id; set node.id in the client's bootstrap (e.g. sidecar~10.0.0.1~name.ns~ns.svc.cluster.local)" };
  }
  return { node: nodeFromEnvoy(envoyNode) };
}
