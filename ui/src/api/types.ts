// The JSON the control plane serves under /api/dashboard/: the backend's own contract types
// (src/control/dashboard/contract.ts), so a change there fails this page's type check. The
// page trusts the shapes but checks the top-level structure when it parses (api/client.ts).
import type { ProxyRow, ScrapeReport, XdsShortType, XdsSyncState } from "../../../src/control/dashboard/contract.ts";

export type { ConfigEntry, DetailsResponse, GraphEdge, GraphNode, GraphResponse, Health, NodeKind, ProxiesResponse, TcpRates } from "../../../src/control/dashboard/contract.ts";
export type ScrapeStatus = ScrapeReport;
export type ProxyStatus = ProxyRow;
export type XdsType = XdsShortType;
export type SyncState = XdsSyncState;

/** The columns of the proxies table, in istioctl's order. */
export const XDS_TYPES: readonly XdsType[] = ["CDS", "LDS", "EDS", "RDS"];

/** What the user clicked: a node or an edge, by id. */
export type Selection = { type: "node"; id: string } | { type: "edge"; id: string };
