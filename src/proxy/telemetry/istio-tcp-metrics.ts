// Istio's TCP metrics: istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total,
// istio_tcp_connections_opened_total, istio_tcp_connections_closed_total, reported by the
// client's sidecar (reporter source, outbound tcp_proxy) and the server's (reporter
// destination, inbound tcp_proxy), with the HTTP metrics' labels minus response_code and
// grpc_response_status, request_protocol "tcp", and the connection's response flags.
//
// Raw TCP carries no peer metadata headers, and Mizzen does not run Istio's TCP metadata
// exchange (ALPN istio-peer-exchange): the peer is who its mTLS certificate says (SPIFFE ID ->
// principal and namespace), the destination service comes from the outbound cluster's
// metadata on the client, and from the SNI the client sidecar sent on the server.
//
// Cost: one report object per connection, labels resolved once (when the upstream is
// connected, or at the end for a connection that never got one); bytes are read from the
// connection's own counters (RequestLog) when Prometheus scrapes and when the connection
// closes, so a long-lived connection shows its bytes while it is open, and nothing is done
// per chunk.
import type { CompiledCluster } from "../state/types.ts";
import type { RequestLog } from "../http/request-log.ts";
import type { IstioMetrics } from "./istio-metrics.ts";
import { renderLabels } from "./prometheus-text.ts";
import { UNKNOWN, UNKNOWN_PEER, type PeerInfo } from "./peer-metadata.ts";
import { catchAllServiceName, serviceFromAuthority, type DestinationService } from "./destination-service.ts";
import { CounterFamily, labelsWithRules, type CounterCell, type LabelPair } from "./metric-families.ts";
import { identityPairs, peerFromPrincipal, serviceFromSni } from "./identity-labels.ts";
import type { CompiledStatsConfig } from "./stats-config.ts";

const MAX_CACHED_PRINCIPALS = 512;
const UNKNOWN_SERVICE: DestinationService = Object.freeze({ host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN });

/** The cells one connection updates (TCP_METRICS order); undefined where an override dropped one. */
interface TcpSeries {
  sent: CounterCell | undefined;
  received: CounterCell | undefined;
  opened: CounterCell | undefined;
  closed: CounterCell | undefined;
}

/** What a connection knows about itself when it starts. */
export interface TcpReportStart {
  inbound: boolean;
  /** The connection's own record: bytes both ways, flags, TLS peers, cluster name. */
  log: RequestLog;
  /** The chain's istio.stats overrides, when it has the filter. */
  config: CompiledStatsConfig | undefined;
  /** Inbound over mTLS: the SNI the client sidecar sent. */
  serverName?: string | undefined;
}

/** One connection's report. resolve() when the upstream is there, end() when both sides closed. */
export class TcpConnectionReport {
  readonly start: TcpReportStart;
  private readonly metrics: IstioTcpMetrics;
  private series: TcpSeries | undefined;
  private resolved = false;
  private ended = false;
  private reportedSent = 0;
  private reportedReceived = 0;

  constructor(metrics: IstioTcpMetrics, start: TcpReportStart) {
    this.metrics = metrics;
    this.start = start;
  }

  /**
   * The labels are known (upstream connected, or the connection ends without one): counts
   * the connection as opened. `target`: the original destination (host:port) of a
   * passthrough connection, which names its destination_service.
   */
  resolve(cluster: CompiledCluster | undefined, target?: string): void {
    if (this.resolved) return;
    this.resolved = true;
    this.series = this.metrics.seriesFor(this.start, cluster, target);
    if (this.series?.opened) this.series.opened.value++;
  }

  /** Adds the bytes moved since the last flush. */
  flush(): void {
    const s = this.series;
    if (!s) return;
    const log = this.start.log;
    if (s.sent) s.sent.value += log.bytesSent - this.reportedSent;
    if (s.received) s.received.value += log.bytesReceived - this.reportedReceived;
    this.reportedSent = log.bytesSent;
    this.reportedReceived = log.bytesReceived;
  }

  /** Both sides are closed: the last bytes, and the connection counted as closed. */
  end(cluster: CompiledCluster | undefined, target?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.resolve(cluster, target);
    this.flush();
    if (this.series?.closed) this.series.closed.value++;
    this.metrics.forget(this);
  }
}

export class IstioTcpMetrics {
  private readonly owner: IstioMetrics;
  private readonly series = new Map<string, TcpSeries>();
  private readonly active = new Set<TcpConnectionReport>();
  private readonly principals = new Map<string, PeerInfo>();
  private readonly sent = new CounterFamily("istio_tcp_sent_bytes_total", "Bytes sent to the downstream during a TCP connection (Istio standard metric).");
  private readonly received = new CounterFamily("istio_tcp_received_bytes_total", "Bytes received from the downstream during a TCP connection (Istio standard metric).");
  private readonly opened = new CounterFamily("istio_tcp_connections_opened_total", "TCP connections opened (Istio standard metric).");
  private readonly closed = new CounterFamily("istio_tcp_connections_closed_total", "TCP connections closed (Istio standard metric).");

  constructor(owner: IstioMetrics) {
    this.owner = owner;
  }

  /** A new connection's report; undefined when an override turned every TCP metric off here. */
  begin(start: TcpReportStart): TcpConnectionReport | undefined {
    if (start.config?.tcpOff) return undefined;
    const r = new TcpConnectionReport(this, start);
    this.active.add(r);
    return r;
  }

  /** Connections still open (for tests and the admin page). */
  get openConnections(): number {
    return this.active.size;
  }

  forget(r: TcpConnectionReport): void {
    this.active.delete(r);
  }

  private peerOf(principal: string): PeerInfo {
    let p = this.principals.get(principal);
    if (!p) {
      p = peerFromPrincipal(principal);
      if (this.principals.size < MAX_CACHED_PRINCIPALS) this.principals.set(principal, p);
    }
    return p;
  }

  private serviceOf(start: TcpReportStart, cluster: CompiledCluster | undefined, target: string | undefined): { key: string; svc: () => DestinationService } {
    if (start.inbound) return { key: `sni:${start.serverName ?? ""}`, svc: () => serviceFromSni(start.serverName, this.owner.namespace) };
    const catchAll = catchAllServiceName("-", cluster?.name ?? start.log.upstreamCluster);
    if (catchAll) return { key: `${catchAll}@${target ?? ""}`, svc: () => ({ ...(target ? serviceFromAuthority(target, this.owner.namespace) : UNKNOWN_SERVICE), name: catchAll, namespace: UNKNOWN }) };
    const istio = cluster?.istioService;
    if (istio) return { key: `c:${cluster!.name}`, svc: () => istio };
    return { key: `t:${target ?? ""}`, svc: () => (target ? serviceFromAuthority(target, this.owner.namespace) : UNKNOWN_SERVICE) };
  }

  /** The cells for a connection, created with its labels the first time; undefined past MAX_SERIES. */
  seriesFor(start: TcpReportStart, cluster: CompiledCluster | undefined, target: string | undefined): TcpSeries | undefined {
    const { inbound, log, config } = start;
    const mtls = inbound ? log.downstreamTls : log.upstreamTls;
    const peerPrincipal = (inbound ? log.downstreamPrincipal : log.upstreamPrincipal) ?? UNKNOWN;
    const service = this.serviceOf(start, cluster, target);
    const key = `${inbound ? 1 : 0}|${service.key}|${mtls ? peerPrincipal : ""}|${log.flags}|${config?.id ?? 0}`;
    let s = this.series.get(key);
    if (s) return s;
    if (!this.owner.admitSeries()) return undefined;
    const peer = mtls ? this.peerOf(peerPrincipal) : UNKNOWN_PEER;
    const ownPrincipal = mtls ? this.owner.principal?.() ?? UNKNOWN : UNKNOWN;
    const pairs: LabelPair[] = [
      ...identityPairs(inbound, this.owner.self, peer, service.svc()),
      ["request_protocol", "tcp"],
      ["response_flags", log.flags || "-"],
      ["connection_security_policy", inbound ? (mtls ? "mutual_tls" : "none") : UNKNOWN],
      ["source_principal", inbound ? peerPrincipal : ownPrincipal],
      ["destination_principal", inbound ? ownPrincipal : peerPrincipal],
    ];
    const base = renderLabels(pairs);
    // Request attributes (headers, host) do not exist on TCP: such tags read "unknown", as in Istio.
    const labels = (i: number): string | undefined => {
      const rules = config?.tcp[i];
      return rules ? labelsWithRules(pairs, rules, []) : base;
    };
    const l0 = labels(0), l1 = labels(1), l2 = labels(2), l3 = labels(3);
    s = {
      sent: l0 === undefined ? undefined : this.sent.cell(l0),
      received: l1 === undefined ? undefined : this.received.cell(l1),
      opened: l2 === undefined ? undefined : this.opened.cell(l2),
      closed: l3 === undefined ? undefined : this.closed.cell(l3),
    };
    this.series.set(key, s);
    return s;
  }

  /** The four families; open connections' bytes are brought up to date first. */
  render(): string {
    for (const r of this.active) r.flush();
    return this.sent.render() + this.received.render() + this.opened.render() + this.closed.render();
  }
}
