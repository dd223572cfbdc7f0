// IstioCertificateService as a @grpc/grpc-js service definition, (de)serialised with protobufjs
// from ca.proto. protobufjs bundles google.protobuf.Struct with camelCase field names; we declare
// it here with the proto names so `keepCase` holds everywhere, as src/xds does.
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";
import { fromStruct, toStruct, type Json } from "../xds/struct.ts";
import { addSnakeCaseStruct } from "../xds/struct-proto.ts";

export const CREATE_CERTIFICATE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

export interface CertificateRequestMessage {
  csr: string;
  /** Seconds; 0 when absent. */
  validity_duration: number;
  /** google.protobuf.Struct as plain JSON. */
  metadata: Record<string, Json>;
  /** Set (by the service definition) when the bytes were not an IstioCertificateRequest. */
  decode_error?: string;
}

export interface CertificateResponseMessage {
  cert_chain: string[];
}


function loadRoot(): protobuf.Root {
  const r = new protobuf.Root();
  addSnakeCaseStruct(r);
  r.loadSync(fileURLToPath(new URL("./ca.proto", import.meta.url)), { keepCase: true });
  r.resolveAll();
  return r;
}

let root: protobuf.Root | undefined;
function types(): { req: protobuf.Type; res: protobuf.Type } {
  root ??= loadRoot();
  return { req: root.lookupType("istio.v1.auth.IstioCertificateRequest"), res: root.lookupType("istio.v1.auth.IstioCertificateResponse") };
}

export function encodeCertificateRequest(msg: Partial<CertificateRequestMessage>): Buffer {
  const { req } = types();
  const obj = { csr: msg.csr ?? "", validity_duration: msg.validity_duration ?? 0, metadata: msg.metadata ? toStruct(msg.metadata) : undefined };
  return Buffer.from(req.encode(req.fromObject(obj)).finish());
}

/** Throws on bytes that are not an IstioCertificateRequest. */
export function decodeCertificateRequest(buf: Buffer): CertificateRequestMessage {
  const { req } = types();
  const o = req.toObject(req.decode(buf), { longs: Number, enums: String, defaults: false }) as { csr?: string; validity_duration?: number; metadata?: Parameters<typeof fromStruct>[0] };
  return { csr: o.csr ?? "", validity_duration: Number(o.validity_duration ?? 0), metadata: fromStruct(o.metadata) };
}

export function encodeCertificateResponse(msg: CertificateResponseMessage): Buffer {
  const { res } = types();
  return Buffer.from(res.encode(res.fromObject(msg)).finish());
}

export function decodeCertificateResponse(buf: Buffer): CertificateResponseMessage {
  const { res } = types();
  const o = res.toObject(res.decode(buf), { arrays: true }) as Partial<CertificateResponseMessage>;
  return { cert_chain: o.cert_chain ?? [] };
}

export const certificateServiceDefinition: ServiceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: Partial<CertificateRequestMessage>) => encodeCertificateRequest(m),
    // Never throw here: grpc-js would answer INTERNAL without the CA seeing (or counting) it.
    requestDeserialize: (b: Buffer): CertificateRequestMessage => {
      try {
        return decodeCertificateRequest(b);
      } catch (e) {
        return { csr: "", validity_duration: 0, metadata: {}, decode_error: (e as Error).message };
      }
    },
    responseSerialize: (m: CertificateResponseMessage) => encodeCertificateResponse(m),
    responseDeserialize: (b: Buffer) => decodeCertificateResponse(b),
  },
};
