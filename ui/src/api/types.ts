// The JSON the control plane serves under /api/dashboard/ (see the backend in
// src/control/dashboard/). Kept as plain types: the page trusts the shapes but checks the
// top-level structure when it parses (api/client.ts).

export type Health = "healthy" | "degraded" | "failing" | "idle";
export type NodeKind = "workload" | "service" | "unknown";

export interface GraphNode {
  /** "workload:<ns>/<name>" | "service:<hostname>" | "unknown" */
  id: string;
  kind: NodeKind;
  name: string;
  namespace: string;
  app?: string;
  version?: string;
  rps: number;
  errorRate: number;
  p99Ms: number | null;
  health: Health;
  proxy?: { id: string; synced: boolean };
}

export interface TcpRates {
  sentBytesPerSecond: number;
  receivedBytesPerSecond: number;
  connectionsOpenedPerSecond: number;
}

export interface GraphEdge {
  /** "<sourceId>-><targetId>" */
  id: string;
  source: string;
  target: string;
  protocol: "http" | "grpc" | "tcp";
  rps: number;
  errorRate: number;
  p99Ms: number | null;
  mtls: boolean;
  responseCodes: Record<string, number>;
  flags: Record<string, number>;
  health: Health;
  tcp?: TcpRates;
}

export interface ScrapeStatus {
  proxies: number;
  failed: { proxy: string; error: string }[];
}

export interface GraphResponse {
  generatedAt: number;
  windowSeconds: number;
  scrape: ScrapeStatus;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface ConfigEntry {
  kind: string;
  name: string;
  namespace: string;
  state: string;
  /** file:line */
  where: string;
  messages: string[];
}

export interface DetailsResponse {
  title: string;
  kind: NodeKind | "edge";
  numbers: {
    rps: number;
    errorRate: number;
    p99Ms: number | null;
    mtls?: boolean;
    responseCodes?: Record<string, number>;
    flags?: Record<string, number>;
  };
  config: ConfigEntry[];
  endpoints?: { address: string; healthy: boolean; workload: string }[];
  hints: string[];
}

export const XDS_TYPES = ["CDS", "LDS", "EDS", "RDS"] as const;
export type XdsType = (typeof XDS_TYPES)[number];
export type SyncState = "SYNCED" | "STALE" | "NACKED" | "NOT SENT";

export interface ProxyStatus {
  id: string;
  name: string;
  namespace: string;
  types: Partial<Record<XdsType, SyncState>>;
  health: string;
  /** seconds */
  connectedFor: number;
}

export interface ProxiesResponse {
  proxies: ProxyStatus[];
}

/** What the user clicked: a node or an edge, by id. */
export type Selection = { type: "node"; id: string } | { type: "edge"; id: string };
