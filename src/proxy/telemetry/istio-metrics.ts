// Istio's standard HTTP metrics (istio_requests_total, istio_request_duration_milliseconds,
// istio_request_bytes, istio_response_bytes) with Istio's labels, so Istio's Grafana
// dashboards and Kiali queries work unchanged. The outbound side reports as "source", the
// inbound side as "destination"; the other side's identity comes from peer metadata headers.
// The TCP metrics are istio-tcp-metrics.ts; both render on one page.
//
// Hot path: the ~20 workload and service labels are rendered once per (direction, peer,
// cluster or authority) into a prefix string; each prefix keeps its series by a short
// "code|flags|grpc status|principal" key, and a series holds the four cells it updates. A
// request costs two map lookups and a few increments. A Telemetry override (istio.stats,
// stats-config.ts) adds its id, and the request values its tags read, to that key.
import type { IncomingHttpHeaders } from "node:http";
import type { CompiledCluster } from "../state/types.ts";
import type { RequestLog } from "../http/request-log.ts";
import type { ProxyNode } from "../../xds/node.ts";
import { grpcStatusOf } from "../http/local-reply.ts";
import { renderLabels, type Histogram } from "./prometheus-text.ts";
import { UNKNOWN, UNKNOWN_PEER, decodePeerMetadata, encodePeerMetadata, peerFromNode, type PeerInfo } from "./peer-metadata.ts";
import { catchAllServiceName, serviceFromAuthority } from "./destination-service.ts";
import { CounterFamily, HistogramFamily, labelsWithRules, type CounterCell, type LabelPair } from "./metric-families.ts";
import { identityPairs } from "./identity-labels.ts";
import type { CompiledStatsConfig, TagSource } from "./stats-config.ts";
import { IstioTcpMetrics } from "./istio-tcp-metrics.ts";

/** Envoy's default histogram buckets, which Istio's sidecars use for all three histograms. */
export const ISTIO_BUCKETS: readonly number[] = Object.freeze([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]);
/** Beyond this many series new label combinations are dropped (and counted), bounding memory. */
export const MAX_SERIES = 20_000;
export const MAX_CACHED_PEERS = 512;

/** The cells one request updates; undefined where an override dropped the metric. */
interface Series {
  requests: CounterCell | undefined;
  duration: Histogram | undefined;
  requestBytes: Histogram | undefined;
  responseBytes: Histogram | undefined;
}

interface Prefix {
  labels: string;
  pairs: LabelPair[];
  series: Map<string, Series>;
}

/** One peer (as its header value named it) and its prefixes by direction, then cluster or authority. */
interface PeerEntry {
  info: PeerInfo;
  prefixes: [Map<string, Prefix>, Map<string, Prefix>];
}

function peerEntry(info: PeerInfo): PeerEntry {
  return { info, prefixes: [new Map(), new Map()] };
}

/** Istio's grpc_response_status: the grpc-status the response carried, else Envoy's mapping of the HTTP status. */
export function grpcResponseStatus(log: RequestLog): string {
  if (log.grpcStatus !== undefined) return log.grpcStatus;
  return log.status > 0 ? String(grpcStatusOf(log.status)) : "";
}

/** A request-dependent tag value (header, host, method, path); "unknown" when absent. */
function tagValue(s: TagSource, log: RequestLog, headers: IncomingHttpHeaders | undefined): string {
  if (s.kind === "literal") return s.value;
  if (s.kind === "header") {
    const v = headers?.[s.name];
    return v === undefined ? UNKNOWN : Array.isArray(v) ? v.join(",") : v;
  }
  const v = s.field === "host" ? log.authority : s.field === "method" ? log.method : log.path;
  return v === "-" ? UNKNOWN : v;
}

export class IstioMetrics {
  /** This proxy as a peer sees it; precomputed x-envoy-peer-metadata / -id values. */
  readonly self: PeerInfo;
  readonly peerMetadata: string;
  readonly peerId: string;
  readonly namespace: string;
  /** Istio's TCP metrics, reported by tcp_proxy connections. */
  readonly tcp: IstioTcpMetrics;
  /** By raw header value; each entry keeps its own series, so a lookup never hashes a joined key. */
  private readonly peers = new Map<string, PeerEntry>();
  private readonly unknownPeer = peerEntry(UNKNOWN_PEER);
  private lastPeerRaw: string | undefined;
  private lastPeer: PeerEntry | undefined;
  private seriesCount = 0;
  private readonly requests = new CounterFamily("istio_requests_total", "Requests handled by this proxy (Istio standard metric).");
  private readonly duration = new HistogramFamily("istio_request_duration_milliseconds", "Duration of requests in milliseconds.", ISTIO_BUCKETS);
  private readonly requestBytes = new HistogramFamily("istio_request_bytes", "Request body sizes in bytes.", ISTIO_BUCKETS);
  private readonly responseBytes = new HistogramFamily("istio_response_bytes", "Response body sizes in bytes.", ISTIO_BUCKETS);
  /** Requests (and TCP connections) not recorded because MAX_SERIES was reached. */
  dropped = 0;

  /** This proxy's own SPIFFE ID (its workload certificate), for the *_principal labels. */
  principal: (() => string | undefined) | undefined;

  constructor(node: ProxyNode) {
    this.self = peerFromNode(node);
    this.peerMetadata = encodePeerMetadata(node);
    this.peerId = node.id;
    this.namespace = node.namespace || "default";
    this.tcp = new IstioTcpMetrics(this);
  }

  private peer(raw: string | undefined): PeerEntry | undefined {
    if (raw === undefined) return this.unknownPeer;
    // Most requests come from the peer the last one came from: comparing the header value is
    // cheaper than hashing it (a fresh ~200-character string each time) for the map.
    if (raw === this.lastPeerRaw) return this.lastPeer;
    let p = this.peers.get(raw);
    if (!p) {
      // Peers are few; a flood of distinct values stops being tracked instead of growing memory.
      if (this.peers.size >= MAX_CACHED_PEERS) return undefined;
      p = peerEntry(decodePeerMetadata(raw));
      this.peers.set(raw, p);
    }
    this.lastPeerRaw = raw;
    this.lastPeer = p;
    return p;
  }

  /** Room for one more series (HTTP or TCP); counts a drop when there is none. */
  admitSeries(): boolean {
    if (this.seriesCount >= MAX_SERIES) {
      this.dropped++;
      return false;
    }
    this.seriesCount++;
    return true;
  }

  /**
   * Records one finished request. `inbound`: the listener's direction; `cluster`: the cluster
   * it was routed to (its Istio service metadata names the destination service), if any;
   * `config`: the connection manager's istio.stats overrides; `headers`: the request's, for
   * tags an override reads from them.
   */
  record(inbound: boolean, cluster: CompiledCluster | undefined, log: RequestLog, config?: CompiledStatsConfig, headers?: IncomingHttpHeaders, end = Date.now()): void {
    if (config?.httpOff) return;
    const peer = this.peer(inbound ? log.downstreamPeer : log.upstreamPeer);
    if (!peer) {
      this.dropped++;
      return;
    }
    const catchAll = catchAllServiceName(log.routeName, cluster?.name);
    const service = catchAll ? undefined : cluster?.istioService;
    const serviceKey = service ? cluster!.name : `${catchAll ?? ""}@${log.authority}`;
    const byKey = peer.prefixes[inbound ? 1 : 0];
    let prefix = byKey.get(serviceKey);
    if (!prefix) {
      if (this.seriesCount >= MAX_SERIES) {
        this.dropped++;
        return;
      }
      const fromAuthority = service ? undefined : serviceFromAuthority(log.authority, this.namespace);
      const svc = service ?? (catchAll ? { ...fromAuthority!, name: catchAll, namespace: UNKNOWN } : fromAuthority!);
      const pairs = identityPairs(inbound, this.self, peer.info, svc);
      prefix = { labels: renderLabels(pairs), pairs, series: new Map() };
      byKey.set(serviceKey, prefix);
    }
    const grpc = log.grpc;
    const grpcStatus = grpc ? grpcResponseStatus(log) : "";
    // Istio: the destination reports mutual_tls or none; the source reports unknown.
    const mtls = inbound ? log.downstreamTls : log.upstreamTls;
    const peerPrincipal = (inbound ? log.downstreamPrincipal : log.upstreamPrincipal) ?? UNKNOWN;
    let seriesKey = `${log.status}|${log.flags}|${grpc ? grpcStatus : "h"}|${mtls ? peerPrincipal : ""}`;
    let dynamic: string[] | undefined;
    if (config) {
      seriesKey += `|${config.id}`;
      if (config.dynamic.length > 0) {
        dynamic = config.dynamic.map((s) => tagValue(s, log, headers));
        seriesKey += `\n${dynamic.join("\n")}`;
      }
    }
    let s = prefix.series.get(seriesKey);
    if (!s) {
      if (!this.admitSeries()) return;
      const ownPrincipal = mtls ? this.principal?.() ?? UNKNOWN : UNKNOWN;
      const outcome: LabelPair[] = [
        ["request_protocol", grpc ? "grpc" : "http"],
        ["response_code", String(log.status)],
        ["grpc_response_status", grpcStatus],
        ["response_flags", log.flags || "-"],
        ["connection_security_policy", inbound ? (mtls ? "mutual_tls" : "none") : UNKNOWN],
        ["source_principal", inbound ? peerPrincipal : ownPrincipal],
        ["destination_principal", inbound ? ownPrincipal : peerPrincipal],
      ];
      const base = `${prefix.labels},${renderLabels(outcome)}`;
      const p = prefix;
      const labels = (i: number): string | undefined => {
        const rules = config?.http[i];
        return rules ? labelsWithRules([...p.pairs, ...outcome], rules, dynamic ?? []) : base;
      };
      const l0 = labels(0), l1 = labels(1), l2 = labels(2), l3 = labels(3);
      s = {
        requests: l0 === undefined ? undefined : this.requests.cell(l0),
        duration: l1 === undefined ? undefined : this.duration.cell(l1),
        requestBytes: l2 === undefined ? undefined : this.requestBytes.cell(l2),
        responseBytes: l3 === undefined ? undefined : this.responseBytes.cell(l3),
      };
      prefix.series.set(seriesKey, s);
    }
    if (s.requests) s.requests.value++;
    s.duration?.observe(end - log.start);
    s.requestBytes?.observe(log.bytesReceived);
    s.responseBytes?.observe(log.bytesSent);
  }

  /** The HTTP and TCP families in Prometheus text format. */
  render(): string {
    return this.requests.render() + this.duration.render() + this.requestBytes.render() + this.responseBytes.render() + this.tcp.render();
  }
}
