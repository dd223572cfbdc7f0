// The proxy's tracer: starts and finishes request spans for connection managers that have
// tracing, and sends sampled ones to their provider's collector. One queue per provider;
// the collector's address is one of its cluster's endpoints in the current snapshot, picked
// in turn per batch. Counters in /stats: tracing.<reason> per decision, and per provider kind
// tracing.<opentelemetry|zipkin>.{spans_sent, spans_dropped, reports_sent, reports_failed,
// reports_skipped_no_cluster, reports_skipped_unsupported, timer_flushed}.
// Cheap when not sampled: ids and headers only, no record, no queue.
import type { IncomingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import type { ProxyNode } from "../../../xds/node.ts";
import type { CompiledCluster, Snapshot } from "../../state/types.ts";
import type { RequestLog } from "../../http/request-log.ts";
import type { ProxyStats } from "../../stats.ts";
import { canonicalNames } from "../peer-metadata.ts";
import type { CompiledTraceProvider, CompiledTracing, TraceFormat } from "./compile-tracing.ts";
import { createSender, type SpanSender } from "./exporters.ts";
import { nowMs, startRequestSpan, type RequestSpan } from "./request-span.ts";
import type { SamplingReason } from "./sampling.ts";
import { SpanBatcher } from "./span-batcher.ts";
import { spanRecord, type SpanRecord } from "./span-record.ts";

export interface TracerOptions {
  snapshot(): Snapshot;
  stats: ProxyStats;
  logger: Logger;
  /** Who this proxy is: the default service name ("<canonical service>.<namespace>") and node_id. */
  node?: ProxyNode;
  /** [0, 1) for sampling draws (tests inject one). */
  random?: () => number;
  flushMs?: number;
  maxQueue?: number;
  maxBatch?: number;
}

const REASON_STAT: Record<SamplingReason, string> = {
  parent: "tracing.parent_sampled",
  forced: "tracing.service_forced",
  client: "tracing.client_enabled",
  random: "tracing.random_sampling",
  not_sampled: "tracing.not_traceable",
};

/** At most this many collector URLs keep an exporter (endpoints come and go). */
const MAX_SENDERS = 16;

function statNames(kind: TraceFormat): (name: string) => string {
  const cache = new Map<string, string>();
  return (name) => {
    let s = cache.get(name);
    if (!s) cache.set(name, (s = `tracing.${kind}.${name}`));
    return s;
  };
}

export class Tracer {
  private readonly o: TracerOptions;
  private readonly serviceName: string;
  private readonly nodeId: string;
  private readonly batchers = new Map<string, SpanBatcher>();
  private readonly senders = new Map<string, Promise<SpanSender>>();
  private readonly stat: Record<TraceFormat, (name: string) => string> = { opentelemetry: statNames("opentelemetry"), zipkin: statNames("zipkin") };
  private turn = 0;
  private failing = false;

  constructor(o: TracerOptions) {
    this.o = o;
    const n = o.node;
    this.serviceName = n ? `${canonicalNames(n.labels, n.name).service}.${n.namespace || "default"}` : "mizzen-proxy";
    this.nodeId = n?.id ?? "-";
  }

  /** Starts a request's span and puts its context on `headers` (which go upstream). */
  start(t: CompiledTracing, headers: IncomingHttpHeaders): RequestSpan {
    const span = startRequestSpan(t, headers, this.o.random);
    this.o.stats.inc(REASON_STAT[span.reason]);
    return span;
  }

  /** Ends a request's span: sampled ones are queued for export. */
  finish(span: RequestSpan, t: CompiledTracing, inbound: boolean, log: RequestLog, headers: IncomingHttpHeaders | undefined, cluster: CompiledCluster | undefined, end = nowMs()): void {
    if (!span.sampled) return;
    const p = t.provider;
    if (p.unsupported) {
      this.o.stats.inc(this.stat[p.kind]("reports_skipped_unsupported"));
      return;
    }
    this.batcher(p).add(spanRecord(span, t, inbound, log, headers, cluster, { nodeId: this.nodeId }, end));
  }

  private batcher(p: CompiledTraceProvider): SpanBatcher {
    let b = this.batchers.get(p.key);
    if (!b) {
      const stat = this.stat[p.kind];
      b = new SpanBatcher({
        send: (spans) => this.send(p, spans),
        count: (name, by) => this.o.stats.inc(stat(name), by),
        ...(this.o.flushMs !== undefined ? { flushMs: this.o.flushMs } : {}),
        ...(this.o.maxQueue !== undefined ? { maxQueue: this.o.maxQueue } : {}),
        ...(this.o.maxBatch !== undefined ? { maxBatch: this.o.maxBatch } : {}),
      });
      this.batchers.set(p.key, b);
    }
    return b;
  }

  /** The collector: one endpoint of the provider's cluster, healthy ones first, in turn. */
  private collectorUrl(p: CompiledTraceProvider): string | undefined {
    const c = this.o.snapshot().clusters.get(p.cluster);
    const eps = c?.healthyEndpoints.length ? c.healthyEndpoints : c?.endpoints ?? [];
    if (eps.length === 0) return undefined;
    const ep = eps[this.turn++ % eps.length]!;
    const host = ep.host.includes(":") ? `[${ep.host}]` : ep.host;
    return `http://${host}:${ep.port}${p.path}`;
  }

  private async send(p: CompiledTraceProvider, spans: SpanRecord[]): Promise<boolean> {
    const url = this.collectorUrl(p);
    if (!url) {
      this.o.stats.inc(this.stat[p.kind]("reports_skipped_no_cluster"));
      return false;
    }
    const key = `${p.key}|${url}`;
    let sender = this.senders.get(key);
    if (!sender) {
      if (this.senders.size >= MAX_SENDERS) {
        const [oldest, s] = this.senders.entries().next().value!;
        this.senders.delete(oldest);
        void s.then((x) => x.shutdown(), () => undefined);
      }
      sender = createSender({ kind: p.kind, transport: p.transport, url, headers: p.headers, timeoutMs: p.timeoutMs, serviceName: p.serviceName ?? this.serviceName });
      this.senders.set(key, sender);
    }
    let ok = false;
    try {
      ok = await (await sender).send(spans);
    } catch (err) {
      this.senders.delete(key);
      this.o.logger.warn({ err: (err as Error).message }, "cannot load the span exporter");
    }
    if (ok === this.failing) {
      this.failing = !ok;
      if (this.failing) this.o.logger.warn({ collector: url, spans: spans.length }, "the trace collector did not accept spans; they are dropped and counted in /stats");
      else this.o.logger.info({ collector: url }, "the trace collector accepts spans again");
    }
    return ok;
  }

  /** Spans still queued across providers. */
  queued(): number {
    let n = 0;
    for (const b of this.batchers.values()) n += b.queued;
    return n;
  }

  /** Sends what is queued (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.flush()));
  }

  /** Sends what is queued, waiting at most `waitMs` for a slow collector, then stops the exporters. */
  async close(waitMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    await Promise.all([...this.senders.values()].map((s) => s.then((x) => x.shutdown(), () => undefined)));
    this.senders.clear();
  }
}
