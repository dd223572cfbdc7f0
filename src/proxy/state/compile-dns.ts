// A STRICT_DNS cluster's refresh settings: dns_refresh_rate (Envoy's default 5 s, at least
// 1 ms as Envoy validates it) and respect_dns_ttl. Other cluster types ignore both, as Envoy.
import type { Cluster } from "../../xds/envoy-types.ts";
import type { DnsRefreshConfig } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";

/** Envoy's dns_refresh_rate when the cluster gives none. */
export const DEFAULT_DNS_REFRESH_MS = 5_000;

export function compileDnsRefresh(c: Cluster, field: string): DnsRefreshConfig | undefined {
  if (c.type !== "STRICT_DNS") return undefined;
  const refreshMs = durationMs(c.dns_refresh_rate, `${field}.dns_refresh_rate`) ?? DEFAULT_DNS_REFRESH_MS;
  if (refreshMs < 1) throw new ConfigInvalid(`${field}.dns_refresh_rate`, "must be at least 1ms (e.g. { seconds: 5 })");
  return { refreshMs, respectTtl: c.respect_dns_ttl === true };
}
