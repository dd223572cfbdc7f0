// Istio's protocol selection for a service port. Istio reads, in order: UDP transport,
// an explicit appProtocol (or ServiceEntry protocol), the "grpc-web" prefix, then the port
// name up to its first "-" ("http-web" -> http). Anything unrecognised is UNKNOWN, which a
// sidecar treats as HTTP (Istio sniffs it) unless the port is a well-known TCP one.
import type { Protocol } from "./types.ts";

/** Istio's full protocol set (pkg/config/protocol). */
export type IstioProtocol =
  | "GRPC" | "GRPC-Web" | "HTTP" | "HTTP_PROXY" | "HTTP2" | "HTTPS" | "TCP" | "TLS"
  | "UDP" | "Mongo" | "Redis" | "MySQL" | "UNKNOWN";

const BY_NAME: Record<string, IstioProtocol> = {
  tcp: "TCP",
  udp: "UDP",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  http: "HTTP",
  http_proxy: "HTTP_PROXY",
  http2: "HTTP2",
  https: "HTTPS",
  tls: "TLS",
  mongo: "Mongo",
  redis: "Redis",
  mysql: "MySQL",
};

// Kubernetes' own appProtocol values (kubernetes.io/h2c etc.).
const KUBERNETES_APP_PROTOCOLS: Record<string, IstioProtocol> = {
  "kubernetes.io/h2c": "HTTP2",
  "kubernetes.io/ws": "HTTP",
  "kubernetes.io/wss": "HTTPS",
};

// Ports whose traffic Istio never sniffs: unnamed, they are TCP.
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/** Case-insensitive parse of one protocol name; UNKNOWN when not Istio's. */
export function parseProtocol(name: string | undefined): IstioProtocol {
  if (!name) return "UNKNOWN";
  return BY_NAME[name.toLowerCase()] ?? "UNKNOWN";
}

export interface PortProtocolInput {
  port: number;
  name?: string;
  /** Kubernetes Service port `protocol` (TCP/UDP/SCTP). */
  transport?: string;
  appProtocol?: string;
}

/** Istio's protocol for a Kubernetes Service port. */
export function protocolForPort(p: PortProtocolInput): IstioProtocol {
  if (p.transport?.toUpperCase() === "UDP") return "UDP";
  if (p.appProtocol) {
    const k8s = KUBERNETES_APP_PROTOCOLS[p.appProtocol.toLowerCase()];
    if (k8s) return k8s;
    const byApp = parseProtocol(p.appProtocol);
    if (byApp !== "UNKNOWN") return byApp;
  }
  const name = p.name ?? "";
  if (name.toLowerCase().startsWith("grpc-web")) return "GRPC-Web";
  const dash = name.indexOf("-");
  const prefix = dash >= 0 ? name.slice(0, dash) : name;
  let out = parseProtocol(prefix);
  if (out === "UDP") out = "UNKNOWN"; // a TCP port named "udp-..." is not UDP
  if (out === "UNKNOWN" && WELL_KNOWN_TCP_PORTS.has(p.port)) return "TCP";
  return out;
}

/** Istio's protocol for a ServiceEntry port: its `protocol` field, else the name rules. */
export function protocolForServiceEntryPort(p: { number: number; name?: string; protocol?: string }): IstioProtocol {
  const explicit = parseProtocol(p.protocol);
  if (explicit !== "UNKNOWN") return explicit;
  return protocolForPort({ port: p.number, name: p.name });
}

/**
 * Narrow to the registry's Protocol. HTTP-family protocols keep their meaning (gRPC-Web is
 * gRPC to the upstream); database protocols are TCP to a proxy; UDP, which our proxy cannot
 * carry, is reported as TCP so that no HTTP route is ever built for it.
 */
export function toRegistryProtocol(p: IstioProtocol): Protocol {
  switch (p) {
    case "HTTP":
    case "HTTP_PROXY":
      return "HTTP";
    case "HTTP2":
      return "HTTP2";
    case "GRPC":
    case "GRPC-Web":
      return "GRPC";
    case "HTTPS":
      return "HTTPS";
    case "TLS":
      return "TLS";
    case "UNKNOWN":
      return "UNKNOWN";
    default:
      return "TCP";
  }
}

/** True for protocols a sidecar routes as HTTP (UNKNOWN: Istio sniffs, we assume HTTP). */
export function isHttpLike(p: Protocol): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "UNKNOWN";
}

/**
 * What a sidecar listener does with a port (Istio's ModelProtocolToListenerProtocol): HTTP
 * connection manager, tcp_proxy, or "auto": sniff the first bytes (http_inspector) and take
 * HTTP when they are HTTP, TCP otherwise (also after the detection timeout, for protocols
 * where the server speaks first).
 */
export type ListenerProtocol = "http" | "tcp" | "auto";

export function listenerProtocol(p: Protocol): ListenerProtocol {
  switch (p) {
    case "HTTP":
    case "HTTP2":
    case "GRPC":
      return "http";
    case "UNKNOWN":
      return "auto";
    default:
      return "tcp"; // TCP, TLS, HTTPS (and Mongo, Redis, MySQL, which the registry calls TCP)
  }
}

/**
 * The protocol of a workload's own port (Istio's POD_PORTS entry): its name rules as for a
 * Service port; `protocol` there is the transport (TCP/UDP), never an application protocol.
 */
export function protocolForWorkloadPort(p: { containerPort: number; name?: string; protocol?: string }): Protocol {
  return toRegistryProtocol(protocolForPort({ port: p.containerPort, name: p.name, transport: p.protocol }));
}
