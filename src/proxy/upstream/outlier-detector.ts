// Passive health checking of one cluster's hosts, Envoy's consecutive-error kind. Each try's
// outcome is reported per host: a 5xx response, or a local failure (connect failure, reset,
// timeout), counts towards consecutive_5xx; 502/503/504 and local failures count towards
// consecutive_gateway_failure; anything else resets the counters. A host reaching a
// threshold is ejected at once, unless that would take the share of ejected hosts past
// max_ejection_percent. The sweep every `interval` returns hosts whose ejection time
// (base_ejection_time x times ejected, capped at max_ejection_time) has passed, and lets the
// multiplier of hosts that stayed in service decay by one.
import type { OutlierDetectionConfig } from "../state/types.ts";

class HostOutlierState {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Ejections so far (decays while the host stays in service). */
  ejections = 0;
  /** When the current ejection started; 0 when the host is in service. */
  ejectedAt = 0;
}

export class OutlierDetector {
  private config: OutlierDetectionConfig;
  private readonly hosts = new Map<string, HostOutlierState>();
  private timer: NodeJS.Timeout | undefined;
  /** Hosts ejected right now. */
  ejectedCount = 0;
  /** Changes whenever the set of ejected hosts changes (balancers are rebuilt on change). */
  epoch = 0;
  ejectionsTotal = 0;
  /** Ejections skipped because of max_ejection_percent. */
  ejectionsOverflow = 0;
  /** How many hosts the cluster has now (for max_ejection_percent). */
  private hostCount = 0;
  private readonly now: () => number;

  constructor(config: OutlierDetectionConfig, now: () => number = Date.now) {
    this.config = config;
    this.now = now;
    this.startTimer();
  }

  get key(): string {
    return this.config.key;
  }

  /** A new config for the same cluster: host state stays, the sweep restarts at the new pace. */
  reconfigure(config: OutlierDetectionConfig): void {
    const paceChanged = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (paceChanged) this.startTimer();
  }

  /** The cluster's current hosts; state of hosts that left is dropped. */
  setHosts(keys: readonly string[]): void {
    this.hostCount = keys.length;
    const keep = new Set(keys);
    for (const [k, h] of this.hosts) {
      if (keep.has(k)) continue;
      if (h.ejectedAt) this.ejectedCount--;
      this.hosts.delete(k);
      this.epoch++;
    }
  }

  isEjected(key: string): boolean {
    return (this.hosts.get(key)?.ejectedAt ?? 0) !== 0;
  }

  /** A response arrived from the host. */
  reportStatus(key: string, status: number): void {
    const h = this.host(key);
    if (status >= 500) {
      h.consecutive5xx++;
      if (status === 502 || status === 503 || status === 504) h.consecutiveGateway++;
      else h.consecutiveGateway = 0;
      this.check(h);
    } else {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
    }
  }

  /** The host could not be reached, reset the stream, or timed out. */
  reportLocalFailure(key: string): void {
    const h = this.host(key);
    h.consecutive5xx++;
    h.consecutiveGateway++;
    this.check(h);
  }

  /** Whether the sweep timer is running (false once stopped). */
  get sweeping(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private host(key: string): HostOutlierState {
    let h = this.hosts.get(key);
    if (!h) this.hosts.set(key, (h = new HostOutlierState()));
    return h;
  }

  private check(h: HostOutlierState): void {
    if (h.ejectedAt) return;
    const c = this.config;
    const hit = (c.consecutive5xx > 0 && h.consecutive5xx >= c.consecutive5xx) || (c.consecutiveGatewayFailure > 0 && h.consecutiveGateway >= c.consecutiveGatewayFailure);
    if (!hit) return;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    // Never past the limit: the host is ejected only if the share after ejecting it fits.
    const total = Math.max(this.hostCount, this.hosts.size);
    if ((this.ejectedCount + 1) * 100 > c.maxEjectionPercent * total) {
      this.ejectionsOverflow++;
      return;
    }
    h.ejectedAt = this.now();
    h.ejections++;
    this.ejectedCount++;
    this.ejectionsTotal++;
    this.epoch++;
  }

  /** One sweep: return hosts whose ejection is over; decay the multiplier of healthy hosts. */
  sweep(): void {
    const now = this.now();
    const c = this.config;
    for (const h of this.hosts.values()) {
      if (h.ejectedAt) {
        const duration = Math.min(c.baseEjectionMs * h.ejections, Math.max(c.maxEjectionMs, c.baseEjectionMs));
        if (now - h.ejectedAt < duration) continue;
        h.ejectedAt = 0;
        h.consecutive5xx = 0;
        h.consecutiveGateway = 0;
        this.ejectedCount--;
        this.epoch++;
      } else if (h.ejections > 0) {
        h.ejections--;
      }
    }
  }

  private startTimer(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.sweep(), this.config.intervalMs);
    this.timer.unref();
  }
}
