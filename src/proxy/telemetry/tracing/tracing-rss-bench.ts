// Quick measurement, not a test (the method of src/proxy/identity/import-rss-bench.ts): resident
// memory of a fresh Node process after loading
//   bare        nothing
//   ts          one tiny .ts module (src/proxy/stats.ts): Node's TypeScript stripper, the baseline
//               for the .ts cases (a real sidecar runs pre-stripped modules and never loads it)
//   sidecar     the data plane (src/proxy/main.ts), which includes the tracing code a sidecar always loads
//   tracing     only that always-loaded tracing code (tracer.ts, compile-tracing.ts): its own share
//   otlp        the tracing code plus the OTLP/HTTP exporter, as after a first sampled span (OpenTelemetry provider)
//   zipkin      the same with the Zipkin exporter
// Each case runs several times in its own process, with the node flags `mizzen up` gives a
// sidecar (pre-stripped modules, so Node's TypeScript stripper, ~18 MiB, is not counted);
// medians are printed, in MiB.
//   npx node src/proxy/telemetry/tracing/tracing-rss-bench.ts [runs per case, default 5]
import { fileURLToPath } from "node:url";
import { sidecarNodeFlags } from "../../../run/stripped-modules.ts";
import { compareImportRss, printMemory } from "../../../../bench/lib/import-rss.ts";

const CASES = ["bare", "ts", "tracing", "sidecar", "otlp", "otlp-grpc", "zipkin"] as const;
type Case = (typeof CASES)[number];

async function load(which: Case): Promise<void> {
  if (which !== "bare") await import("../../stats.ts");
  if (which === "sidecar") await import("../../main.ts");
  if (which === "tracing" || which === "otlp" || which === "otlp-grpc" || which === "zipkin") {
    await import("./tracer.ts");
    await import("./compile-tracing.ts");
  }
  if (which === "otlp" || which === "otlp-grpc" || which === "zipkin") {
    const { createSender } = await import("./exporters.ts");
    await createSender({ kind: which === "zipkin" ? "zipkin" : "opentelemetry", transport: which === "otlp-grpc" ? "grpc" : "http", url: "http://127.0.0.1:9/x", headers: {}, timeoutMs: 1000, serviceName: "bench.default" });
  }
}

if (process.argv[2] === "--child") {
  await load(process.argv[3] as Case);
  await printMemory();
  process.exit(0); // an exporter's agent may keep the loop alive
} else {
  compareImportRss(fileURLToPath(import.meta.url), CASES, Number(process.argv[2] ?? 5), sidecarNodeFlags());
}
