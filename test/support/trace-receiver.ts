// A trace collector for tests: an HTTP server that accepts what tracing backends accept and
// decodes it into one flat list of spans.
//   POST /v1/traces      OTLP/HTTP with a JSON body (what @opentelemetry/exporter-trace-otlp-http
//                        sends; a protobuf body is refused with 415 and recorded as an error)
//   POST /api/v2/spans   Zipkin JSON v2 (a list of spans)
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
  format: "otlp" | "zipkin";
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: string;
  /** resource service.name (OTLP) or localEndpoint.serviceName (Zipkin). */
  serviceName: string;
  attributes: Record<string, string>;
  /** OTLP status code name (UNSET, OK, ERROR); Zipkin: ERROR when the "error" tag is set. */
  status: string;
  startUnixNano: bigint;
}

export interface TraceReceiver {
  port: number;
  spans: ReceivedSpan[];
  /** Problems with what was sent (wrong content type, bad JSON): a test should assert it is empty. */
  errors: string[];
  /** POST requests as they came: path and content-type. */
  posts: { path: string; contentType: string }[];
  /** Resolves with the spans of `traceId` once there are at least `count` of them. */
  waitForTrace(traceId: string, count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
export const KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
export const STATUS = ["UNSET", "OK", "ERROR"];

function attrValue(v: unknown): string {
  const o = (v ?? {}) as Json;
  for (const k of ["stringValue", "intValue", "doubleValue", "boolValue"]) if (o[k] !== undefined) return String(o[k]);
  return JSON.stringify(o);
}

function attributes(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of Array.isArray(list) ? (list as Json[]) : []) out[String(a.key)] = attrValue(a.value);
  return out;
}

function decodeOtlp(body: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (body.resourceSpans as Json[] | undefined) ?? []) {
    const resource = attributes((rs.resource as Json | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      for (const s of (ss.spans as Json[] | undefined) ?? []) {
        out.push({
          format: "otlp",
          traceId: String(s.traceId),
          spanId: String(s.spanId),
          parentSpanId: s.parentSpanId ? String(s.parentSpanId) : undefined,
          name: String(s.name),
          kind: KINDS[Number(s.kind)] ?? String(s.kind),
          serviceName: resource["service.name"] ?? "",
          attributes: attributes(s.attributes),
          status: STATUS[Number((s.status as Json | undefined)?.code ?? 0)] ?? "?",
          startUnixNano: BigInt(String(s.startTimeUnixNano ?? 0)),
        });
      }
    }
  }
  return out;
}

function decodeZipkin(body: unknown): ReceivedSpan[] {
  if (!Array.isArray(body)) throw new Error("Zipkin v2 JSON is a list of spans");
  return (body as Json[]).map((s) => {
    const tags = Object.fromEntries(Object.entries((s.tags ?? {}) as Json).map(([k, v]) => [k, String(v)]));
    return {
      format: "zipkin" as const,
      traceId: String(s.traceId),
      spanId: String(s.id),
      parentSpanId: s.parentId ? String(s.parentId) : undefined,
      name: String(s.name),
      kind: String(s.kind ?? "INTERNAL"),
      serviceName: String(((s.localEndpoint ?? {}) as Json).serviceName ?? ""),
      attributes: tags,
      status: tags.error !== undefined ? "ERROR" : "UNSET",
      startUnixNano: BigInt(Math.round(Number(s.timestamp ?? 0))) * 1000n,
    };
  });
}

/** waitForTrace over a growing span list; call notify() after adding spans. */
export function traceWaiting(spans: ReceivedSpan[], errors: string[]): { notify(): void; waitForTrace: TraceReceiver["waitForTrace"] } {
  const waiters = new Set<() => void>();
  return {
    notify: () => {
      for (const w of waiters) w();
    },
    waitForTrace(traceId, count, timeoutMs = 15_000) {
      const found = () => spans.filter((s) => s.traceId === traceId);
      return new Promise((resolve, reject) => {
        const check = () => {
          const f = found();
          if (f.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(f);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`trace ${traceId}: ${found().length} of ${count} spans arrived (received ${spans.length} spans in all${errors.length ? `; errors: ${errors.join("; ")}` : ""})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

export async function startTraceReceiver(host = "127.0.0.1", port = 0): Promise<TraceReceiver> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const posts: { path: string; contentType: string }[] = [];
  const waiting = traceWaiting(spans, errors);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const contentType = String(req.headers["content-type"] ?? "");
      if (req.method !== "POST") return void res.writeHead(405).end();
      posts.push({ path, contentType });
      if (!contentType.includes("json")) {
        errors.push(`${path}: content-type ${contentType}, expected JSON`);
        return void res.writeHead(415).end();
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        if (path === "/v1/traces") spans.push(...decodeOtlp(body as Json));
        else if (path === "/api/v2/spans") spans.push(...decodeZipkin(body));
        else throw new Error(`unexpected path ${path}`);
      } catch (err) {
        errors.push(`${path}: ${(err as Error).message}`);
        return void res.writeHead(400).end();
      }
      waiting.notify();
      if (path === "/v1/traces") res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    spans,
    errors,
    posts,
    waitForTrace: waiting.waitForTrace,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
