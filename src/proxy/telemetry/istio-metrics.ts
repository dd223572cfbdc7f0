// Istio's standard HTTP metrics (istio_requests_total, istio_request_duration_milliseconds,
// istio_request_bytes, istio_response_bytes) with Istio's labels, so Istio's Grafana
// dashboards and Kiali queries work unchanged. The outbound side reports as "source", the
// inbound side as "destination"; the other side's identity comes from peer metadata headers.
//
// Hot path: the ~20 workload and service labels are rendered once per (direction, peer,
// cluster or authority) into a prefix string; each prefix keeps its series by a short
// "code|flags|protocol" key. A request costs two map lookups and a few increments.
import type { CompiledCluster } from "../state/types.ts";
import type { RequestLog } from "../http/request-log.ts";
import type { ProxyNode } from "../../xds/node.ts";
import { Histogram, renderLabels, writeCounter, writeHistogram, type CounterSample, type HistogramSample } from "./prometheus-text.ts";
import { UNKNOWN, UNKNOWN_PEER, decodePeerMetadata, encodePeerMetadata, peerFromNode, type PeerInfo } from "./peer-metadata.ts";
import { catchAllServiceName, serviceFromAuthority, type DestinationService } from "./destination-service.ts";

/** Envoy's default histogram buckets, which Istio's sidecars use for all three histograms. */
export const ISTIO_BUCKETS: readonly number[] = Object.freeze([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]);
/** Beyond this many series new label combinations are dropped (and counted), bounding memory. */
export const MAX_SERIES = 20_000;
const MAX_CACHED_PEERS = 512;

interface Series {
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

interface Prefix {
  labels: string;
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

export class IstioMetrics {
  /** This proxy as a peer sees it; precomputed x-envoy-peer-metadata / -id values. */
  readonly self: PeerInfo;
  readonly peerMetadata: string;
  readonly peerId: string;
  private readonly namespace: string;
  /** By raw header value; each entry keeps its own series, so a lookup never hashes a joined key. */
  private readonly peers = new Map<string, PeerEntry>();
  private readonly unknownPeer = peerEntry(UNKNOWN_PEER);
  private seriesCount = 0;
  /** Requests not recorded because MAX_SERIES was reached. */
  dropped = 0;

  /** This proxy's own SPIFFE ID (its workload certificate), for the *_principal labels. */
  principal: (() => string | undefined) | undefined;

  constructor(node: ProxyNode) {
    this.self = peerFromNode(node);
    this.peerMetadata = encodePeerMetadata(node);
    this.peerId = node.id;
    this.namespace = node.namespace || "default";
  }

  private peer(raw: string | undefined): PeerEntry | undefined {
    if (raw === undefined) return this.unknownPeer;
    let p = this.peers.get(raw);
    if (!p) {
      // Peers are few; a flood of distinct values stops being tracked instead of growing memory.
      if (this.peers.size >= MAX_CACHED_PEERS) return undefined;
      p = peerEntry(decodePeerMetadata(raw));
      this.peers.set(raw, p);
    }
    return p;
  }

  /**
   * Records one finished request. `inbound`: the listener's direction; `cluster`: the cluster
   * it was routed to (its Istio service metadata names the destination service), if any.
   */
  record(inbound: boolean, cluster: CompiledCluster | undefined, log: RequestLog, end = Date.now()): void {
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
      prefix = { labels: this.prefixLabels(inbound, peer.info, svc), series: new Map() };
      byKey.set(serviceKey, prefix);
    }
    const grpc = log.grpc;
    // Istio: the destination reports mutual_tls or none; the source reports unknown.
    const mtls = inbound ? log.downstreamTls : log.upstreamTls;
    const peerPrincipal = (inbound ? log.downstreamPrincipal : log.upstreamPrincipal) ?? UNKNOWN;
    const ownPrincipal = mtls ? this.principal?.() ?? UNKNOWN : UNKNOWN;
    const seriesKey = `${log.status}|${log.flags}|${grpc ? "g" : "h"}|${mtls ? peerPrincipal : ""}`;
    let s = prefix.series.get(seriesKey);
    if (!s) {
      if (this.seriesCount >= MAX_SERIES) {
        this.dropped++;
        return;
      }
      this.seriesCount++;
      const outcome = renderLabels([
        ["request_protocol", grpc ? "grpc" : "http"],
        ["response_code", String(log.status)],
        // gRPC status travels in trailers, which the proxy does not read yet.
        ["grpc_response_status", grpc ? UNKNOWN : ""],
        ["response_flags", log.flags || "-"],
        ["connection_security_policy", inbound ? (mtls ? "mutual_tls" : "none") : UNKNOWN],
        ["source_principal", inbound ? peerPrincipal : ownPrincipal],
        ["destination_principal", inbound ? ownPrincipal : peerPrincipal],
      ]);
      s = { labels: `${prefix.labels},${outcome}`, requests: 0, duration: new Histogram(ISTIO_BUCKETS), requestBytes: new Histogram(ISTIO_BUCKETS), responseBytes: new Histogram(ISTIO_BUCKETS) };
      prefix.series.set(seriesKey, s);
    }
    s.requests++;
    s.duration.observe(end - log.start);
    s.requestBytes.observe(log.bytesReceived);
    s.responseBytes.observe(log.bytesSent);
  }

  private prefixLabels(inbound: boolean, peer: PeerInfo, svc: DestinationService): string {
    const src = inbound ? peer : this.self;
    const dst = inbound ? this.self : peer;
    return renderLabels([
      ["reporter", inbound ? "destination" : "source"],
      ["source_workload", src.workload],
      ["source_canonical_service", src.canonicalService],
      ["source_canonical_revision", src.canonicalRevision],
      ["source_workload_namespace", src.namespace],
      ["source_app", src.app],
      ["source_version", src.version],
      ["source_cluster", src.cluster],
      ["destination_workload", dst.workload],
      ["destination_workload_namespace", dst.namespace],
      ["destination_app", dst.app],
      ["destination_version", dst.version],
      ["destination_service", svc.host],
      ["destination_service_name", svc.name],
      ["destination_service_namespace", svc.namespace],
      ["destination_canonical_service", dst.canonicalService],
      ["destination_canonical_revision", dst.canonicalRevision],
      ["destination_cluster", dst.cluster],
    ]);
  }

  private *allSeries(): Iterable<Series> {
    for (const peer of [this.unknownPeer, ...this.peers.values()]) for (const byKey of peer.prefixes) for (const p of byKey.values()) yield* p.series.values();
  }

  /** The four families in Prometheus text format. */
  render(): string {
    const all = [...this.allSeries()];
    const hist = (pick: (s: Series) => Histogram): HistogramSample[] => all.map((s) => ({ labels: s.labels, histogram: pick(s) }));
    return writeCounter("istio_requests_total", "Requests handled by this proxy (Istio standard metric).", all.map((s): CounterSample => ({ labels: s.labels, value: s.requests })))
      + writeHistogram("istio_request_duration_milliseconds", "Duration of requests in milliseconds.", hist((s) => s.duration))
      + writeHistogram("istio_request_bytes", "Request body sizes in bytes.", hist((s) => s.requestBytes))
      + writeHistogram("istio_response_bytes", "Response body sizes in bytes.", hist((s) => s.responseBytes));
  }
}
