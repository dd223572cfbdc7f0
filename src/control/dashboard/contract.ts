// The JSON the dashboard API serves (/api/dashboard/graph, /details, /proxies), exactly as
// the dashboard page (ui/src/api/types.ts) imports them. Types, and the health rule.

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
  /** Requests per second: handled (inbound) for a workload, sent to it for a service. */
  rps: number;
  /** 0..1, the share of 5xx answers. */
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
  /** connection_security_policy = mutual_tls on the destination reporter. */
  mtls: boolean;
  /** Response code -> requests per second. */
  responseCodes: Record<string, number>;
  /** response_flags other than "-" -> requests per second. */
  flags: Record<string, number>;
  health: Health;
  tcp?: TcpRates;
}

export interface ScrapeReport {
  /** Proxies scraped in the last round. */
  proxies: number;
  failed: { proxy: string; error: string }[];
}

export interface GraphResponse {
  /** ms since the epoch. */
  generatedAt: number;
  /** The rate window. */
  windowSeconds: number;
  scrape: ScrapeReport;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface ConfigEntry {
  kind: string;
  name: string;
  namespace: string;
  /** accepted | rejected-kept-last-good | rejected */
  state: string;
  /** file:line */
  where: string;
  messages: string[];
}

export interface DetailsNumbers {
  rps: number;
  errorRate: number;
  p99Ms: number | null;
  mtls?: boolean;
  responseCodes?: Record<string, number>;
  flags?: Record<string, number>;
}

export interface DetailsResponse {
  title: string;
  kind: NodeKind | "edge";
  numbers: DetailsNumbers;
  config: ConfigEntry[];
  endpoints?: { address: string; healthy: boolean; workload: string }[];
  hints: string[];
}

export type XdsShortType = "CDS" | "LDS" | "EDS" | "RDS";
export type XdsSyncState = "SYNCED" | "STALE" | "NACKED" | "NOT SENT";

export interface ProxyRow {
  id: string;
  name: string;
  namespace: string;
  types: Record<XdsShortType, XdsSyncState>;
  health: string;
  /** Seconds since the stream opened. */
  connectedFor: number;
}

export interface ProxiesResponse {
  proxies: ProxyRow[];
}

/** Kiali's default thresholds: degraded above 0.1 % errors, failing from 20 %. */
export function healthOf(rps: number, errorRate: number, active = rps > 0): Health {
  if (!active) return "idle";
  if (errorRate >= 0.2) return "failing";
  if (errorRate > 0.001) return "degraded";
  return "healthy";
}
