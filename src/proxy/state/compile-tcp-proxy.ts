// envoy.filters.network.tcp_proxy -> CompiledTcpProxy. Fields that would change where bytes
// go (subset metadata, tunnelling, on-demand clusters) are refused rather than ignored.
import type { TcpProxy } from "../../xds/envoy-types.ts";
import type { CompiledTcpProxy } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";
import { compileAccessLogs } from "../http/access-log.ts";

/** Envoy's default idle_timeout for tcp_proxy: one hour. */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;

const REFUSED_FIELDS: readonly string[] = ["metadata_match", "tunneling_config", "on_demand"];

export function compileTcpProxy(raw: TcpProxy, field: string): CompiledTcpProxy {
  if (typeof raw !== "object" || raw === null) throw new ConfigInvalid(field, "tcp_proxy config is missing");
  if (!raw.stat_prefix) throw new ConfigInvalid(`${field}.stat_prefix`, "stat_prefix is required (it names the connection counters)");
  for (const f of REFUSED_FIELDS) {
    if ((raw as unknown as Record<string, unknown>)[f] !== undefined) throw new ConfigInvalid(`${field}.${f}`, `tcp_proxy ${f} is not supported by the Mizzen proxy; remove it`);
  }
  const weighted = raw.weighted_clusters?.clusters;
  if (raw.cluster && weighted) throw new ConfigInvalid(field, "cluster and weighted_clusters are exclusive");
  let clusters: { cluster: string; weight: number }[];
  if (raw.cluster) {
    clusters = [{ cluster: raw.cluster, weight: 1 }];
  } else if (weighted?.length) {
    clusters = weighted.map((c, i) => {
      const at = `${field}.weighted_clusters.clusters[${i}]`;
      if (!c?.name) throw new ConfigInvalid(`${at}.name`, "cluster name is empty");
      const weight = Number(c.weight);
      if (!Number.isInteger(weight) || weight < 1) throw new ConfigInvalid(`${at}.weight`, `weight must be a whole number >= 1, got ${String(c.weight)}`);
      return { cluster: c.name, weight };
    });
  } else {
    throw new ConfigInvalid(field, "tcp_proxy needs cluster or weighted_clusters");
  }
  const attempts = raw.max_connect_attempts?.value ?? 1;
  if (!Number.isInteger(attempts) || attempts < 1) throw new ConfigInvalid(`${field}.max_connect_attempts`, "max_connect_attempts must be >= 1");
  const loggers = compileAccessLogs(raw.access_log, `${field}.access_log`);
  return {
    statPrefix: raw.stat_prefix,
    clusters,
    totalWeight: clusters.reduce((n, c) => n + c.weight, 0),
    idleTimeoutMs: durationMs(raw.idle_timeout, `${field}.idle_timeout`) ?? DEFAULT_TCP_IDLE_TIMEOUT_MS,
    accessLog: loggers.length > 0 ? { loggers } : undefined,
    maxConnectAttempts: attempts,
  };
}
