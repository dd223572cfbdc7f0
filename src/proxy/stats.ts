// Plain counters of the proxy: requests by response flag and code class, connections
// rejected by reason. Names are fixed strings built once (no per-request string building
// except the code-class lookup table).
export class ProxyStats {
  private readonly counters = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  entries(): [string, number][] {
    return [...this.counters.entries()];
  }
}

export const STAT = {
  rqTotal: "downstream_rq_total",
  cxTotal: "downstream_cx_total",
  rqRetry: "upstream_rq_retry",
  rqRetryLimitExceeded: "upstream_rq_retry_limit_exceeded",
  /** CONNECT tunnels accepted, and what they carried. */
  connectTotal: "downstream_cx_connect_total",
  connectHttp: "downstream_cx_connect_http",
  connectPassthrough: "downstream_cx_connect_tls_passthrough",
} as const;

const CODE_CLASS = ["downstream_rq_none", "downstream_rq_1xx", "downstream_rq_2xx", "downstream_rq_3xx", "downstream_rq_4xx", "downstream_rq_5xx"];
export function codeClassStat(status: number): string {
  return CODE_CLASS[Math.floor(status / 100)] ?? "downstream_rq_other";
}

const FLAG_STATS = new Map<string, string>();
export function flagStat(flag: string): string {
  let s = FLAG_STATS.get(flag);
  if (!s) FLAG_STATS.set(flag, (s = `response_flag.${flag}`));
  return s;
}

export function rejectedStat(reason: string): string {
  return `downstream_cx_rejected.${reason}`;
}
