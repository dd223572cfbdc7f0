// One collector URL's exporter: OTLP/HTTP (JSON) through @opentelemetry/exporter-trace-otlp-http,
// OTLP over gRPC (plaintext, as Envoy's envoy_grpc to a cluster) through
// @opentelemetry/exporter-trace-otlp-grpc, or Zipkin JSON v2 through @opentelemetry/exporter-zipkin. Everything OpenTelemetry is
// imported here, dynamically, on the first batch of a provider of that kind: a sidecar without
// tracing never loads the packages (sidecar memory, see tracing-imports.test.ts).
import type { SpanRecord } from "./span-record.ts";
import type { TraceFormat } from "./compile-tracing.ts";

export interface SpanSender {
  /** Resolves true when the collector accepted the batch; never rejects. */
  send(spans: readonly SpanRecord[]): Promise<boolean>;
  shutdown(): Promise<void>;
}

export interface ExporterTarget {
  kind: TraceFormat;
  transport: "http" | "grpc";
  /** http://host:port/path of one collector endpoint (no path for gRPC). */
  url: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  serviceName: string;
}

interface Exporter {
  export(spans: unknown[], done: (r: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

const SUCCESS = 0; // @opentelemetry/core ExportResultCode.SUCCESS

export async function createSender(t: ExporterTarget): Promise<SpanSender> {
  const { serviceResource, toReadableSpan } = await import("./readable-span.ts");
  let exporter: Exporter;
  if (t.kind === "opentelemetry" && t.transport === "grpc") {
    const [{ OTLPTraceExporter }, { Metadata }] = await Promise.all([import("@opentelemetry/exporter-trace-otlp-grpc"), import("@grpc/grpc-js")]);
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(t.headers)) metadata.set(k, v);
    exporter = new OTLPTraceExporter({ url: t.url, metadata, timeoutMillis: t.timeoutMs, concurrencyLimit: 2 }) as unknown as Exporter;
  } else if (t.kind === "opentelemetry") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    exporter = new OTLPTraceExporter({ url: t.url, headers: { ...t.headers }, timeoutMillis: t.timeoutMs, concurrencyLimit: 2 }) as unknown as Exporter;
  } else {
    const { ZipkinExporter } = await import("@opentelemetry/exporter-zipkin");
    exporter = new ZipkinExporter({ url: t.url, serviceName: t.serviceName, headers: { ...t.headers } }) as unknown as Exporter;
  }
  const resource = serviceResource(t.serviceName);
  const widen = t.kind === "opentelemetry";
  return {
    send: (spans) => new Promise<boolean>((resolve) => {
      // The Zipkin exporter has no timeout of its own: a collector that never answers must not hold the queue.
      const timer = setTimeout(() => resolve(false), t.timeoutMs + 1000);
      timer.unref();
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      try {
        exporter.export(spans.map((s) => toReadableSpan(s, resource, widen)), (r) => done(r.code === SUCCESS));
      } catch {
        done(false);
      }
    }),
    shutdown: () => exporter.shutdown().catch(() => undefined),
  };
}
