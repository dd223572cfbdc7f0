// One host name of a STRICT_DNS cluster, resolved again and again as Envoy does: the next
// lookup comes after dns_refresh_rate, or after the answer's TTL when respect_dns_ttl is set.
// Here the refresh rate is also the floor of a TTL-driven wait, so a TTL of 0 or 1 s cannot
// turn into a lookup loop (Envoy itself would follow the shorter TTL). A failed or empty
// lookup keeps the last good addresses and tries again after the refresh rate.
import { promises as dns } from "node:dns";

/** A lookup's answer: IPv4 addresses and the smallest TTL among them (0 = unknown). */
export interface DnsAnswer {
  addresses: string[];
  ttlSeconds: number;
}

/** Resolves one name; tests inject a fake one. */
export type DnsLookup = (hostname: string) => Promise<DnsAnswer>;

/** Runs `fn` after `ms`; returns how to cancel it. Tests inject one to step time by hand. */
export type Scheduler = (fn: () => void, ms: number) => () => void;

/** setTimeout's longest delay; longer TTLs are waited out in this step. */
const MAX_DELAY_MS = 2_147_483_647;

/** Made on first use: a sidecar without DNS clusters never opens a resolver channel. */
let resolver: dns.Resolver | undefined;

/**
 * A DNS query (resolve4, which reports TTLs); a name DNS does not answer (localhost, names in
 * /etc/hosts) falls back to the system resolver (getaddrinfo), whose answers carry no TTL.
 */
export const systemDnsLookup: DnsLookup = async (hostname) => {
  try {
    resolver ??= new dns.Resolver({ timeout: 2_000, tries: 2 });
    const records = await resolver.resolve4(hostname, { ttl: true });
    if (records.length > 0) return { addresses: records.map((r) => r.address), ttlSeconds: Math.min(...records.map((r) => r.ttl)) };
  } catch {
    // Not in DNS (or no DNS server): the system resolver may still know it.
  }
  const found = await dns.lookup(hostname, { all: true, family: 4 });
  return { addresses: found.map((a) => a.address), ttlSeconds: 0 };
};

export const timerScheduler: Scheduler = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** How long to keep an answer: its TTL when respected, never shorter than the refresh rate. */
export function refreshDelayMs(refreshMs: number, respectTtl: boolean, ttlSeconds: number): number {
  const ttlMs = respectTtl && ttlSeconds > 0 ? ttlSeconds * 1000 : 0;
  return Math.min(Math.max(refreshMs, ttlMs), MAX_DELAY_MS);
}

export interface HostnameResolutionOptions {
  hostname: string;
  refreshMs: number;
  respectTtl: boolean;
  lookup: DnsLookup;
  schedule: Scheduler;
  /** The address set changed (sorted, no duplicates); `previous` is undefined on the first answer. */
  onChange(addresses: readonly string[], previous: readonly string[] | undefined): void;
  /** A lookup failed or came back empty; `kept` are the addresses still in use. */
  onFailure(reason: string, kept: readonly string[] | undefined): void;
}

export class HostnameResolution {
  readonly hostname: string;
  /** The last good answer (sorted); undefined until the first one. */
  addresses: readonly string[] | undefined;
  /** Consecutive failed lookups since the last good one. */
  failures = 0;
  private readonly o: HostnameResolutionOptions;
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(o: HostnameResolutionOptions) {
    this.o = o;
    this.hostname = o.hostname;
  }

  /** The first lookup now; later ones on their own schedule until stop(). */
  start(): void {
    void this.resolve();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  private async resolve(): Promise<void> {
    this.cancel = undefined;
    let answer: DnsAnswer | undefined;
    let error = "";
    try {
      answer = await this.o.lookup(this.hostname);
    } catch (err) {
      error = (err as { code?: string }).code ?? (err as Error).message ?? String(err);
    }
    if (this.stopped) return;
    const addresses = answer ? [...new Set(answer.addresses)].sort() : [];
    let delay = this.o.refreshMs;
    if (addresses.length === 0) {
      this.fail(error || "the answer has no IPv4 address");
    } else {
      this.failures = 0;
      delay = refreshDelayMs(this.o.refreshMs, this.o.respectTtl, answer!.ttlSeconds);
      const previous = this.addresses;
      if (!previous || previous.join(",") !== addresses.join(",")) {
        this.addresses = addresses;
        this.o.onChange(addresses, previous);
      }
    }
    if (!this.stopped) this.cancel = this.o.schedule(() => void this.resolve(), delay);
  }

  private fail(reason: string): void {
    this.failures++;
    this.o.onFailure(reason, this.addresses);
  }
}
