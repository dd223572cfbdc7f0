// Istio's HTTP metadata exchange: each sidecar tells its peer who it is in two headers. The
// client's sidecar adds them to the request, the server's sidecar reads them (source_*) and
// adds its own to the response, which the client's sidecar reads (destination_*). Both sides
// strip them, so neither application ever sees them.
//
// Istio puts a base64 protobuf Struct in x-envoy-peer-metadata. Mizzen uses the same header
// names with a simpler documented encoding: base64 of a JSON object with Istio's node
// metadata keys, e.g. {"NAME":"reviews-v1","NAMESPACE":"default","WORKLOAD_NAME":"reviews-v1",
// "CLUSTER_ID":"Kubernetes","SERVICE_ACCOUNT":"reviews","LABELS":{"app":"reviews","version":"v1",
// "service.istio.io/canonical-name":"reviews","service.istio.io/canonical-revision":"v1"}}.
// x-envoy-peer-metadata-id carries the node id.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { ProxyNode } from "../../xds/node.ts";

export const PEER_METADATA_HEADER = "x-envoy-peer-metadata";
export const PEER_ID_HEADER = "x-envoy-peer-metadata-id";
/** Istio's cluster id when none is configured. */
export const DEFAULT_CLUSTER_ID = "Kubernetes";
export const UNKNOWN = "unknown";
/** Longer header values are not decoded (a peer never needs this much). */
const MAX_ENCODED = 8192;

/** What the metrics need to know about one side of a request. */
export interface PeerInfo {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  canonicalService: string;
  canonicalRevision: string;
  cluster: string;
}

export const UNKNOWN_PEER: PeerInfo = Object.freeze({
  workload: UNKNOWN, namespace: UNKNOWN, app: UNKNOWN, version: UNKNOWN,
  canonicalService: UNKNOWN, canonicalRevision: UNKNOWN, cluster: UNKNOWN,
});

/** Istio's canonical service and revision: explicit labels first, then the usual app labels. */
export function canonicalNames(labels: Record<string, string>, workload: string): { service: string; revision: string } {
  return {
    service: labels["service.istio.io/canonical-name"] || labels["app.kubernetes.io/name"] || labels.app || workload || UNKNOWN,
    revision: labels["service.istio.io/canonical-revision"] || labels["app.kubernetes.io/version"] || labels.version || "latest",
  };
}

export function peerFromNode(node: ProxyNode): PeerInfo {
  const c = canonicalNames(node.labels, node.name);
  return {
    workload: node.name || UNKNOWN,
    namespace: node.namespace || UNKNOWN,
    app: node.labels.app || UNKNOWN,
    version: node.labels.version || UNKNOWN,
    canonicalService: c.service,
    canonicalRevision: c.revision,
    cluster: DEFAULT_CLUSTER_ID,
  };
}

/**
 * The x-envoy-peer-metadata value a proxy sends about itself (computed once per proxy). It
 * travels on every request and response between sidecars, so it leaves out what the decoder
 * derives the same way: WORKLOAD_NAME equal to NAME, canonical labels equal to app / version.
 */
export function encodePeerMetadata(node: ProxyNode): string {
  const c = canonicalNames(node.labels, node.name);
  const labels: Record<string, string> = {};
  if (node.labels.app) labels.app = node.labels.app;
  if (node.labels.version) labels.version = node.labels.version;
  if (c.service !== (labels.app || node.name || UNKNOWN)) labels["service.istio.io/canonical-name"] = c.service;
  if (c.revision !== (labels.version || "latest")) labels["service.istio.io/canonical-revision"] = c.revision;
  const meta = { NAME: node.name, NAMESPACE: node.namespace, CLUSTER_ID: DEFAULT_CLUSTER_ID, SERVICE_ACCOUNT: node.serviceAccount, LABELS: labels };
  return Buffer.from(JSON.stringify(meta)).toString("base64");
}

function str(v: unknown): string {
  return typeof v === "string" && v !== "" ? v : UNKNOWN;
}

/** The peer a header value describes; a value that does not decode gives UNKNOWN_PEER (never throws). */
export function decodePeerMetadata(value: string): PeerInfo {
  if (value.length > MAX_ENCODED) return UNKNOWN_PEER;
  let meta: unknown;
  try {
    meta = JSON.parse(Buffer.from(value, "base64").toString("utf8"));
  } catch {
    return UNKNOWN_PEER;
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return UNKNOWN_PEER;
  const m = meta as Record<string, unknown>;
  const rawLabels = typeof m.LABELS === "object" && m.LABELS !== null && !Array.isArray(m.LABELS) ? (m.LABELS as Record<string, unknown>) : {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawLabels)) if (typeof v === "string") labels[k] = v;
  const workload = str(m.WORKLOAD_NAME !== undefined ? m.WORKLOAD_NAME : m.NAME);
  const c = canonicalNames(labels, workload === UNKNOWN ? "" : workload);
  return {
    workload,
    namespace: str(m.NAMESPACE),
    app: str(labels.app),
    version: str(labels.version),
    canonicalService: c.service,
    canonicalRevision: c.revision,
    cluster: str(m.CLUSTER_ID),
  };
}

/**
 * Removes both exchange headers from a header object and returns the metadata value (the
 * first one if repeated), or undefined when there was none. Cheap when they are absent.
 */
export function takePeerHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): string | undefined {
  const v = headers[PEER_METADATA_HEADER];
  if (headers[PEER_ID_HEADER] !== undefined) delete headers[PEER_ID_HEADER];
  if (v === undefined) return undefined;
  delete headers[PEER_METADATA_HEADER];
  if (Array.isArray(v)) return v[0];
  return typeof v === "string" ? v : String(v);
}

/** What a proxy says about itself: the precomputed header values. */
export interface SelfMetadata { peerMetadata: string; peerId: string }

/** Sets both exchange headers on a header object: an upstream request's, or a response's before writeHead. */
export function addPeerHeaders(headers: OutgoingHttpHeaders, self: SelfMetadata): void {
  headers[PEER_METADATA_HEADER] = self.peerMetadata;
  headers[PEER_ID_HEADER] = self.peerId;
}

