// An OTLP/gRPC trace collector for tests: a real gRPC server on TraceService/Export (what a
// collector's port 4317 serves) that decodes each request with its own description of the OTLP
// messages (below, written from the OTLP specification: only the fields the tests read) and
// keeps the spans, in the same form as the HTTP receiver (trace-receiver.ts). The metadata of
// each call is kept too, so a test can check initialMetadata.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { KINDS, STATUS, traceWaiting, type ReceivedSpan, type TraceReceiver } from "./trace-receiver.ts";

const EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

const OTLP_SUBSET = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  fixed64 start_time_unix_nano = 7; repeated KeyValue attributes = 9; Status status = 15;
}
message Status { int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;

interface KeyValue { key: string; value?: { stringValue?: string; boolValue?: boolean; intValue?: unknown; doubleValue?: number } }
interface Request { resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: Span[] }[] }[] }
interface Span { traceId: Uint8Array; spanId: Uint8Array; parentSpanId?: Uint8Array; name: string; kind: number; startTimeUnixNano?: { toString(): string }; attributes?: KeyValue[]; status?: { code?: number } }

const requestType = protobuf.parse(OTLP_SUBSET).root.lookupType("otlp.ExportTraceServiceRequest");

function attributes(list: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = String(v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? "");
  }
  return out;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

function decode(buf: Buffer): ReceivedSpan[] {
  const req = requestType.toObject(requestType.decode(buf), { longs: String, defaults: false }) as Request;
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          format: "otlp",
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: s.parentSpanId?.length ? hex(s.parentSpanId) : undefined,
          name: s.name,
          kind: KINDS[s.kind ?? 0] ?? String(s.kind),
          serviceName: resource["service.name"] ?? "",
          attributes: attributes(s.attributes),
          status: STATUS[s.status?.code ?? 0] ?? "?",
          startUnixNano: BigInt(String(s.startTimeUnixNano ?? 0)),
        });
      }
    }
  }
  return out;
}

export interface OtlpGrpcReceiver extends Omit<TraceReceiver, "posts"> {
  /** Each Export call's metadata (lowercase keys), in order. */
  calls: Record<string, string>[];
}

export async function startOtlpGrpcReceiver(host: string, port: number): Promise<OtlpGrpcReceiver> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const calls: Record<string, string>[] = [];
  const waiting = traceWaiting(spans, errors);
  const server = new grpc.Server();
  const service: grpc.ServiceDefinition = {
    Export: {
      path: EXPORT_PATH, requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(service, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      calls.push(Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)])));
      try {
        spans.push(...decode(call.request));
      } catch (err) {
        errors.push(`Export: ${(err as Error).message}`);
        return done({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
      waiting.notify();
      done(null, Buffer.alloc(0)); // an empty ExportTraceServiceResponse: everything accepted
    },
  });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port: bound,
    spans,
    errors,
    calls,
    waitForTrace: waiting.waitForTrace,
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000).unref();
    }),
  };
}
