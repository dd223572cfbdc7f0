// The AggregatedDiscoveryService (state of the world) as a @grpc/grpc-js service definition,
// with DiscoveryRequest / DiscoveryResponse (de)serialised by the protobufjs root of protos.ts,
// except that responses are written by response-wire.ts (the hot path of a push).
// Resources inside a response stay raw Anys here ({ type_url, value }); protos.ts decodes them
// one by one so that a single bad resource can be reported by name.
import type { ServiceDefinition } from "@grpc/grpc-js";
import { lookupMessage } from "./protos.ts";
import { encodeDiscoveryResponse } from "./response-wire.ts";

export const ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

export interface RawAny { type_url: string; value: Uint8Array }

export interface DiscoveryRequestMessage {
  version_info: string;
  /** envoy.config.core.v3.Node in object form; only required on a stream's first request. */
  node?: Record<string, unknown> | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  /** Present on a NACK. */
  error_detail?: { code?: number; message?: string } | null;
}

export interface DiscoveryResponseMessage {
  version_info: string;
  resources: RawAny[];
  type_url: string;
  nonce: string;
  control_plane?: { identifier: string };
}

// Plain wire form: no json (Anys stay raw), enums as names, 64-bit as numbers, lists always present.
const WIRE = { enums: String, longs: Number, arrays: true } as const;

export function encodeRequest(req: Partial<DiscoveryRequestMessage>): Buffer {
  const type = lookupMessage("envoy.service.discovery.v3.DiscoveryRequest");
  return Buffer.from(type.encode(type.fromObject(req)).finish());
}

export function decodeRequest(buf: Buffer): DiscoveryRequestMessage {
  const type = lookupMessage("envoy.service.discovery.v3.DiscoveryRequest");
  const o = type.toObject(type.decode(buf), WIRE) as Partial<DiscoveryRequestMessage>;
  return {
    version_info: o.version_info ?? "",
    node: o.node ?? null,
    resource_names: o.resource_names ?? [],
    type_url: o.type_url ?? "",
    response_nonce: o.response_nonce ?? "",
    error_detail: o.error_detail ?? null,
  };
}

export function decodeResponse(buf: Buffer): DiscoveryResponseMessage {
  const type = lookupMessage("envoy.service.discovery.v3.DiscoveryResponse");
  const o = type.toObject(type.decode(buf), WIRE) as Partial<DiscoveryResponseMessage>;
  return {
    version_info: o.version_info ?? "",
    resources: (o.resources ?? []).map((r) => ({ type_url: r.type_url ?? "", value: r.value ?? new Uint8Array() })),
    type_url: o.type_url ?? "",
    nonce: o.nonce ?? "",
  };
}

/** The service definition for grpc.Server#addService and for a generic client. */
export function adsServiceDefinition(): ServiceDefinition {
  return {
    StreamAggregatedResources: {
      path: ADS_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: (v: Partial<DiscoveryRequestMessage>) => encodeRequest(v),
      requestDeserialize: (b: Buffer) => decodeRequest(b),
      responseSerialize: (v: DiscoveryResponseMessage) => encodeDiscoveryResponse(v),
      responseDeserialize: (b: Buffer) => decodeResponse(b),
    },
  };
}
