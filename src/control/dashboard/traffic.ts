// One node's or edge's traffic, added up from the window's series: request rates by response
// code and flag, 5xx share, latency buckets for the p99, mTLS as the destination reported it,
// and TCP byte and connection rates. The graph builder decides which series go where.
import type { Bucket } from "./quantile.ts";
import { histogramQuantile, sumBuckets } from "./quantile.ts";
import type { Labels } from "./mesh-metrics.ts";
import { TCP_OPENED, TCP_RECEIVED, TCP_SENT } from "./mesh-metrics.ts";
import type { TcpRates } from "./contract.ts";

/** Rates below this are noise from float arithmetic, not traffic. */
const EPSILON = 1e-9;

export class Traffic {
  rps = 0;
  errorRps = 0;
  readonly codes = new Map<string, number>();
  readonly flags = new Map<string, number>();
  private readonly buckets: Bucket[][] = [];
  private grpcRps = 0;
  private grpcSeen = false;
  private httpSeen = false;
  /** mTLS as the destination's sidecar reported it: rates and, for idle series, presence. */
  private mtlsRps = 0;
  private plainRps = 0;
  private mtlsSeen = false;
  private plainSeen = false;
  private tcpSeen = false;
  private readonly tcpRates = { sent: 0, received: 0, opened: 0, flaggedOpened: 0 };

  /** One istio_requests_total series. */
  addRequests(labels: Labels, rate: number): void {
    const r = rate > EPSILON ? rate : 0;
    this.rps += r;
    const code = labels.response_code ?? "";
    if (/^5\d\d$/.test(code)) this.errorRps += r;
    if (code) this.codes.set(code, (this.codes.get(code) ?? 0) + r);
    const flag = labels.response_flags ?? "-";
    if (flag && flag !== "-") this.flags.set(flag, (this.flags.get(flag) ?? 0) + r);
    if (labels.request_protocol === "grpc") {
      this.grpcRps += r;
      this.grpcSeen = true;
    } else this.httpSeen = true;
  }

  /** One istio_request_duration_milliseconds series' increase within the window. */
  addDuration(buckets: Bucket[]): void {
    this.buckets.push(buckets);
  }

  /** The destination's view of one series: was it mutual TLS? */
  addSecurity(labels: Labels, rate: number): void {
    const mtls = labels.connection_security_policy === "mutual_tls";
    const r = rate > EPSILON ? rate : 0;
    if (mtls) {
      this.mtlsRps += r;
      this.mtlsSeen = true;
    } else {
      this.plainRps += r;
      this.plainSeen = true;
    }
  }

  /** One istio_tcp_* series. */
  addTcp(name: string, labels: Labels, rate: number): void {
    const r = rate > EPSILON ? rate : 0;
    this.tcpSeen = true;
    if (name === TCP_SENT) this.tcpRates.sent += r;
    else if (name === TCP_RECEIVED) this.tcpRates.received += r;
    else if (name === TCP_OPENED) {
      this.tcpRates.opened += r;
      const flag = labels.response_flags ?? "-";
      if (flag && flag !== "-") {
        this.tcpRates.flaggedOpened += r;
        this.flags.set(flag, (this.flags.get(flag) ?? 0) + r);
      }
    }
  }

  get tcpActive(): boolean {
    return this.tcpRates.sent + this.tcpRates.received + this.tcpRates.opened > 0;
  }

  get active(): boolean {
    return this.rps > 0 || this.tcpActive;
  }

  /** 5xx share of requests; for TCP-only traffic, the share of connections that carry a response flag. */
  get errorRate(): number {
    if (this.rps > 0) return this.errorRps / this.rps;
    if (!this.httpSeen && !this.grpcSeen && this.tcpRates.opened > 0) return this.tcpRates.flaggedOpened / this.tcpRates.opened;
    return 0;
  }

  p99Ms(): number | null {
    if (this.buckets.length === 0) return null;
    return histogramQuantile(0.99, sumBuckets(this.buckets));
  }

  /** Mutual TLS when the destination reported only mutual_tls traffic (or, idle, only mutual_tls series). */
  get mtls(): boolean {
    if (this.mtlsRps + this.plainRps > 0) return this.mtlsRps > 0 && this.plainRps === 0;
    return this.mtlsSeen && !this.plainSeen;
  }

  get protocol(): "http" | "grpc" | "tcp" {
    if (!this.httpSeen && !this.grpcSeen) return this.tcpSeen ? "tcp" : "http";
    if (this.grpcRps > 0 || this.rps > 0) return this.grpcRps * 2 > this.rps ? "grpc" : "http";
    return this.grpcSeen && !this.httpSeen ? "grpc" : "http";
  }

  tcp(): TcpRates | undefined {
    if (!this.tcpSeen) return undefined;
    return { sentBytesPerSecond: round(this.tcpRates.sent, 3), receivedBytesPerSecond: round(this.tcpRates.received, 3), connectionsOpenedPerSecond: round(this.tcpRates.opened, 3) };
  }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function roundedMap(m: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = round(v, 3);
  return out;
}
