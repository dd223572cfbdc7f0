// The caller's side of CreateCertificate: what a sidecar's identity module (and the tests) use.
import * as grpc from "@grpc/grpc-js";
import type { Json } from "../xds/struct.ts";
import { CREATE_CERTIFICATE_PATH, encodeCertificateRequest, decodeCertificateResponse, type CertificateRequestMessage, type CertificateResponseMessage } from "./proto.ts";

export interface CertificateRequestOptions {
  /** host:port of the CA. */
  address: string;
  csrPem: string;
  /** The bootstrap token; sent as `authorization: Bearer <token>`. Omit only to test refusals. */
  token?: string;
  /** Requested lifetime in seconds (0 = the CA's default). */
  validitySeconds?: number;
  metadata?: Record<string, Json>;
  credentials?: grpc.ChannelCredentials;
  /** e.g. grpc.ssl_target_name_override when the CA is dialled by IP but its certificate names a DNS name. */
  channelOptions?: grpc.ChannelOptions;
  /** Default 10 s. */
  deadlineMs?: number;
}

/** Resolves to the PEM chain (leaf first, root last); rejects with the gRPC error (code, details). */
export function requestCertificate(opts: CertificateRequestOptions): Promise<string[]> {
  const client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), opts.channelOptions ?? {});
  const md = new grpc.Metadata();
  if (opts.token !== undefined) md.set("authorization", `Bearer ${opts.token}`);
  const req: Partial<CertificateRequestMessage> = { csr: opts.csrPem, validity_duration: opts.validitySeconds ?? 0, metadata: opts.metadata };
  return new Promise<string[]>((resolve, reject) => {
    client.makeUnaryRequest<Partial<CertificateRequestMessage>, CertificateResponseMessage>(
      CREATE_CERTIFICATE_PATH,
      (m) => encodeCertificateRequest(m),
      (b) => decodeCertificateResponse(b),
      req,
      md,
      { deadline: Date.now() + (opts.deadlineMs ?? 10_000) },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res?.cert_chain ?? []);
      },
    );
  });
}
