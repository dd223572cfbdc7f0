// The control plane's Prometheus metrics at /metrics on the monitoring port (15014), with
// istiod's names where istiod has the metric, so its Grafana dashboards and alerts apply:
// pilot_xds (connected proxies), pilot_xds_pushes{type}, pilot_xds_push_time{type},
// pilot_total_xds_rejects{type}, pilot_total_xds_internal_errors, pilot_xds_expired_nonce,
// pilot_proxy_convergence_time, pilot_services. Config has no istiod equivalent in this
// form: mizzen_config_* report objects by state and which ones are rejected right now.
//
// Counters are read from the stats objects the ADS server and config store already keep;
// only the histograms and the NACKs by type are recorded here, through the ADS observer.
import type { ConfigError } from "../api/types.ts";
import type { ObjectStatus } from "../config/store.ts";
import type { AdsObserver, AdsStats } from "../xds/server.ts";
import type { ProxyNode } from "../xds/node.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { Histogram, renderLabels, writeCounter, writeHistogram, type CounterSample } from "../proxy/telemetry/prometheus-text.ts";

/** istiod's buckets (seconds) for pilot_xds_push_time. */
export const PUSH_TIME_BUCKETS: readonly number[] = Object.freeze([0.01, 0.1, 1, 3, 5, 10, 20, 30]);
/** istiod's buckets (seconds) for pilot_proxy_convergence_time. */
export const CONVERGENCE_BUCKETS: readonly number[] = Object.freeze([0.1, 0.5, 1, 3, 5, 10, 20, 30]);

const CONFIG_STATES = ["accepted", "rejected", "rejected-kept-last-good"] as const;

/** istiod's short type names: lds, rds, cds, eds; any other type by its message name. */
export function xdsTypeLabel(typeUrl: string): string {
  switch (typeUrl) {
    case TYPE.listener:
      return "lds";
    case TYPE.route:
      return "rds";
    case TYPE.cluster:
      return "cds";
    case TYPE.endpoint:
      return "eds";
    default:
      return typeUrl.slice(typeUrl.lastIndexOf(".") + 1).toLowerCase() || "unknown";
  }
}

/** What a scrape reads; the real AdsServer, ConfigStore and MeshState fit it. */
export interface MetricsSources {
  xds: { stats(): AdsStats; connections(): { node: ProxyNode }[] };
  config: { readonly version: number; status(): ObjectStatus[]; fileErrors(): ConfigError[] };
  /** Services in the registry (pilot_services). */
  services(): number;
  /** The CA's issued and refused counts, and ADS streams refused by the token check. */
  security?: { ca: { issued: number; refused: Record<string, number> }; adsRefused: ReadonlyMap<string, number> };
}

function bySorted<T>(m: Map<string, T>): [string, T][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export class ControlMetrics {
  /** Pass to the AdsServer (`observer` option). */
  readonly observer: AdsObserver;
  private readonly pushTime = new Map<string, Histogram>();
  private readonly rejects = new Map<string, number>();
  private readonly convergence = new Histogram(CONVERGENCE_BUCKETS);

  constructor() {
    this.observer = {
      sent: (typeUrl, seconds) => {
        const type = xdsTypeLabel(typeUrl);
        let h = this.pushTime.get(type);
        if (!h) this.pushTime.set(type, (h = new Histogram(PUSH_TIME_BUCKETS)));
        h.observe(seconds);
      },
      nacked: (typeUrl) => {
        const type = xdsTypeLabel(typeUrl);
        this.rejects.set(type, (this.rejects.get(type) ?? 0) + 1);
      },
      converged: (seconds) => this.convergence.observe(seconds),
    };
  }

  /** The whole page in Prometheus' text format. */
  render(src: MetricsSources): string {
    return this.renderXds(src) + renderConfig(src.config) + renderSecurity(src.security) + renderProcess();
  }

  private renderXds(src: MetricsSources): string {
    const stats = src.xds.stats();
    const byVersion = new Map<string, number>();
    for (const c of src.xds.connections()) {
      const v = c.node.proxyVersion ?? "unknown";
      byVersion.set(v, (byVersion.get(v) ?? 0) + 1);
    }
    // With nobody connected the gauge still reads 0, so "pilot_xds == 0" alerts can fire.
    const clients: CounterSample[] = byVersion.size === 0
      ? [{ labels: "", value: 0 }]
      : bySorted(byVersion).map(([v, n]) => ({ labels: renderLabels([["version", v]]), value: n }));
    const pushes = new Map<string, number>();
    for (const [url, n] of Object.entries(stats.pushesByType)) {
      const t = xdsTypeLabel(url);
      pushes.set(t, (pushes.get(t) ?? 0) + n);
    }
    const typed = (m: Map<string, number>): CounterSample[] => bySorted(m).map(([t, n]) => ({ labels: renderLabels([["type", t]]), value: n }));
    const one = (value: number): CounterSample[] => [{ labels: "", value }];
    return (
      writeCounter("pilot_xds", "Number of proxies connected to this control plane over xDS.", clients, "gauge") +
      writeCounter("pilot_xds_pushes", "xDS responses sent, by type (lds, rds, cds, eds).", typed(pushes)) +
      writeHistogram("pilot_xds_push_time", "Time in seconds to build and send one xDS response, by type.", bySorted(this.pushTime).map(([t, histogram]) => ({ labels: renderLabels([["type", t]]), histogram }))) +
      writeCounter("pilot_total_xds_rejects", "xDS responses the proxies rejected (NACK), by type.", typed(this.rejects)) +
      writeCounter("pilot_total_xds_internal_errors", "Config for a proxy that could not be generated or encoded (the proxy kept its old config).", one(stats.generationErrors)) +
      writeCounter("pilot_xds_expired_nonce", "xDS requests that answered a response older than the last one sent (stale nonce).", one(stats.staleNonces)) +
      writeCounter("pilot_xds_bad_requests", "xDS requests that could not be used (no node, unknown type, handler failure).", one(stats.badRequests)) +
      writeCounter("pilot_push_rounds", "Debounced push rounds run.", one(stats.pushRounds)) +
      writeHistogram("pilot_proxy_convergence_time", "Delay in seconds between a change and a proxy having been pushed all of it.", [{ labels: "", histogram: this.convergence }]) +
      writeCounter("pilot_services", "Services in the control plane's registry.", one(src.services()), "gauge")
    );
  }
}

function renderConfig(config: MetricsSources["config"]): string {
  const counts = new Map<string, number>(CONFIG_STATES.map((s) => [s, 0]));
  const rejected: CounterSample[] = [];
  for (const s of config.status()) {
    counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
    if (s.state !== "accepted") {
      rejected.push({ labels: renderLabels([["kind", s.kind], ["namespace", s.namespace], ["name", s.name], ["state", s.state]]), value: 1 });
    }
  }
  const fileErrors = config.fileErrors().filter((e) => e.severity !== "warning").length;
  return (
    writeCounter("mizzen_config_objects", "Config objects by state: accepted, rejected (never valid), rejected-kept-last-good (last good version in force).", [...counts].map(([state, n]) => ({ labels: renderLabels([["state", state]]), value: n })), "gauge") +
    writeCounter("mizzen_config_rejected", "1 for each config object whose current version in the files is rejected; see /debug/configz for why.", rejected, "gauge") +
    writeCounter("mizzen_config_file_errors", "Errors not tied to one object (YAML syntax, unreadable files).", [{ labels: "", value: fileErrors }], "gauge") +
    writeCounter("mizzen_config_version", "Effective config version; grows by one on every real change.", [{ labels: "", value: config.version }], "gauge")
  );
}

function renderProcess(): string {
  const cpu = process.cpuUsage();
  return (
    writeCounter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", [{ labels: "", value: (cpu.user + cpu.system) / 1e6 }]) +
    writeCounter("process_resident_memory_bytes", "Resident memory size in bytes.", [{ labels: "", value: process.memoryUsage.rss() }], "gauge") +
    writeCounter("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", [{ labels: "", value: Math.round((Date.now() - process.uptime() * 1000) / 1000) }], "gauge")
  );
}

/**
 * istiod's CA counters (citadel_server_*) and refusals by reason, so an alert can tell a
 * mis-provisioned workload (bad token) from an attack (identity mismatch).
 */
function renderSecurity(sec: MetricsSources["security"]): string {
  if (!sec) return "";
  const refused = Object.entries(sec.ca.refused).sort(([a], [b]) => (a < b ? -1 : 1));
  const csrs = sec.ca.issued + refused.reduce((n, [, v]) => n + v, 0);
  return writeCounter("citadel_server_csr_count", "Certificate signing requests received by the CA.", [{ labels: "", value: csrs }])
    + writeCounter("citadel_server_success_cert_issuance_count", "Certificates the CA issued.", [{ labels: "", value: sec.ca.issued }])
    + writeCounter("mizzen_ca_refused_total", "Certificate requests the CA refused, by reason.", refused.map(([reason, value]): CounterSample => ({ labels: renderLabels([["reason", reason]]), value })))
    + writeCounter("mizzen_xds_refused_total", "ADS streams refused by the bootstrap-token check, by reason.", bySorted(new Map(sec.adsRefused)).map(([reason, value]): CounterSample => ({ labels: renderLabels([["reason", reason]]), value })));
}
