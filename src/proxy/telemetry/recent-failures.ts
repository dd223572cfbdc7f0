// The last few failed requests a sidecar saw, newest first, on admin /recent_failures, so
// `mizzen describe` can say what happened to a request that just failed and what its flag
// means without anyone having turned access logs on. Bounded: a ring of CAPACITY entries.
// TCP connections are kept too (method "TCP"), when the proxy ended them with a flag or an
// AuthorizationPolicy refused them.
import type { RequestLog } from "../http/request-log.ts";

export const RECENT_FAILURES_CAPACITY = 64;

export interface RecentFailure {
  /** ISO time the request started. */
  time: string;
  direction: "inbound" | "outbound";
  method: string;
  authority: string;
  path: string;
  status: number;
  /** Envoy response flags ("-" when none). */
  flags: string;
  details: string;
  upstreamCluster: string;
  upstreamHost: string;
  transportFailure: string;
  requestId: string;
  durationMs: number;
}

/** A request failed when it got no response, a 4xx/5xx, or any response flag. */
export function isFailure(log: RequestLog): boolean {
  return log.status >= 400 || log.status === 0 || log.flags !== "";
}

/** A TCP connection (which has no status) failed when it got a flag (NC, UH, UF) or a policy denied it. */
export function isConnectionFailure(log: RequestLog): boolean {
  return log.flags !== "" || log.details.startsWith("rbac_access_denied");
}

export class RecentFailures {
  private readonly ring: (RecentFailure | undefined)[] = new Array(RECENT_FAILURES_CAPACITY);
  private next = 0;
  /** Failures ever noted (the ring keeps the last CAPACITY). */
  total = 0;

  /** Call for every finished request or TCP connection; only failures are kept. */
  note(inbound: boolean, log: RequestLog, kind: "http" | "tcp" = "http"): void {
    if (!(kind === "tcp" ? isConnectionFailure(log) : isFailure(log))) return;
    this.ring[this.next] = {
      time: new Date(log.start).toISOString(),
      direction: inbound ? "inbound" : "outbound",
      method: kind === "tcp" ? "TCP" : log.method,
      // A connection has no authority: the address the client connected to stands for it.
      authority: kind === "tcp" ? log.downstreamLocal : log.authority,
      path: kind === "tcp" ? "" : log.path,
      status: log.status,
      flags: log.flags || "-",
      details: log.details,
      upstreamCluster: log.upstreamCluster,
      upstreamHost: log.upstreamHost,
      transportFailure: log.transportFailure,
      requestId: log.requestId ?? "-",
      durationMs: Date.now() - log.start,
    };
    this.next = (this.next + 1) % RECENT_FAILURES_CAPACITY;
    this.total++;
  }

  /** Newest first. */
  list(): RecentFailure[] {
    const out: RecentFailure[] = [];
    for (let i = 1; i <= RECENT_FAILURES_CAPACITY; i++) {
      const e = this.ring[(this.next - i + RECENT_FAILURES_CAPACITY) % RECENT_FAILURES_CAPACITY];
      if (e) out.push(e);
    }
    return out;
  }
}
