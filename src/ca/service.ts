// Istio's IstioCertificateService/CreateCertificate on gRPC: a workload sends a CSR with its
// bootstrap token as `authorization: Bearer <token>`; the CA signs the CSR for the identity the
// token maps to (never the one the CSR names) and answers the chain, leaf first, root last.
// Every refusal is logged with its reason and counted in stats(); nothing a caller sends can
// crash the process. The control plane can add the service to its own gRPC server (istiod
// serves it beside xDS on 15012) or start a standalone one with startCaServer().
import * as grpc from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { CaError, isCaError, type CaErrorCode } from "./errors.ts";
import type { WorkloadIdentity } from "./identity.ts";
import { certificateServiceDefinition, type CertificateRequestMessage, type CertificateResponseMessage } from "./proto.ts";
import type { SigningCa } from "./root.ts";
import { lifetimePolicy, signCsr, type LifetimePolicy } from "./sign.ts";

/** What the service needs from a token store (BootstrapTokens implements it). */
export interface TokenVerifier {
  verify(token: string | undefined): WorkloadIdentity;
}

export interface CertificateServiceOptions {
  ca: SigningCa;
  tokens: TokenVerifier;
  /** Validated at construction: a bad configuration fails at start-up. */
  lifetime?: Partial<LifetimePolicy>;
  /** When set, tokens for identities of another trust domain are refused. */
  trustDomain?: string;
  logger?: Logger;
}

export interface CaStats {
  issued: number;
  /** Refusals by reason (missing_token, bad_token, unknown_token, bad_csr, bad_csr_signature, identity_mismatch, bad_lifetime, bad_request, ...). */
  refused: Record<string, number>;
}

const STATUS_BY_CODE: Record<CaErrorCode, grpc.status> = {
  MIZZEN_E_CA_TOKEN: grpc.status.UNAUTHENTICATED,
  MIZZEN_E_CA_SAN_MISMATCH: grpc.status.PERMISSION_DENIED,
  MIZZEN_E_CA_CSR: grpc.status.INVALID_ARGUMENT,
  MIZZEN_E_CA_LIFETIME: grpc.status.INVALID_ARGUMENT,
  MIZZEN_E_CA_IDENTITY: grpc.status.INVALID_ARGUMENT,
  MIZZEN_E_CA_STORE: grpc.status.FAILED_PRECONDITION,
};

/** The token from `authorization` metadata values ("Bearer <token>", scheme case-insensitive). */
export function bearerToken(values: grpc.MetadataValue[]): string | undefined {
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new CaError("MIZZEN_E_CA_TOKEN", "bad_token", "more than one authorization header was sent; send exactly one `authorization: Bearer <token>`");
  const v = values[0];
  const m = typeof v === "string" ? /^Bearer +(\S+) *$/i.exec(v) : null;
  if (!m) throw new CaError("MIZZEN_E_CA_TOKEN", "bad_token", "the authorization header is not `Bearer <token>`");
  return m[1];
}

export class CertificateService {
  readonly #ca: SigningCa;
  readonly #tokens: TokenVerifier;
  readonly #policy: LifetimePolicy;
  readonly #trustDomain: string | undefined;
  readonly #log: Logger;
  #issued = 0;
  readonly #refused = new Map<string, number>();

  constructor(opts: CertificateServiceOptions) {
    this.#ca = opts.ca;
    this.#tokens = opts.tokens;
    this.#policy = lifetimePolicy(opts.lifetime);
    this.#trustDomain = opts.trustDomain;
    this.#log = opts.logger ?? pino({ level: "silent" });
  }

  /** The whole decision, without gRPC: returns the chain or throws a CaError. */
  async createCertificate(authorization: grpc.MetadataValue[], req: CertificateRequestMessage): Promise<string[]> {
    if (req.decode_error) throw new CaError("MIZZEN_E_CA_CSR", "bad_request", `the request is not an IstioCertificateRequest: ${req.decode_error}`);
    const identity = this.#tokens.verify(bearerToken(authorization));
    if (this.#trustDomain !== undefined && identity.trustDomain !== this.#trustDomain) {
      throw new CaError("MIZZEN_E_CA_TOKEN", "wrong_trust_domain", `the token is for trust domain "${identity.trustDomain}" but this CA serves "${this.#trustDomain}"`);
    }
    const issued = await signCsr(this.#ca, { csrPem: req.csr, identity, lifetimeSeconds: req.validity_duration, policy: this.#policy });
    this.#issued++;
    this.#log.info(
      { spiffeId: issued.spiffeId, serial: issued.serialNumber, notAfter: issued.notAfter.toISOString(), truncatedToCa: issued.truncatedToCa || undefined, workload: req.metadata.WorkloadName ?? undefined },
      "certificate issued",
    );
    return issued.chainPem;
  }

  /** The gRPC handler map for certificateServiceDefinition. */
  handlers(): grpc.UntypedServiceImplementation {
    const handler: grpc.handleUnaryCall<CertificateRequestMessage, CertificateResponseMessage> = (call, callback) => {
      this.createCertificate(call.metadata.get("authorization"), call.request).then(
        (chain) => callback(null, { cert_chain: chain }),
        (e: unknown) => callback(this.#refusal(e, call.getPeer(), call.request)),
      );
    };
    return { CreateCertificate: handler };
  }

  addTo(server: grpc.Server): void {
    server.addService(certificateServiceDefinition, this.handlers());
  }

  stats(): CaStats {
    return { issued: this.#issued, refused: Object.fromEntries(this.#refused) };
  }

  #refusal(e: unknown, peer: string, req: CertificateRequestMessage): Partial<grpc.StatusObject> {
    const reason = isCaError(e) ? e.reason : "internal";
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
    if (isCaError(e)) {
      this.#log.warn({ reason, code: e.code, peer, workload: req.metadata?.WorkloadName ?? undefined }, `certificate refused: ${e.message}`);
      return { code: STATUS_BY_CODE[e.code], details: e.message };
    }
    this.#log.error({ reason, peer, err: e }, "certificate signing failed");
    return { code: grpc.status.INTERNAL, details: "internal error while signing the certificate (see the CA's log)" };
  }
}

export interface CaServer {
  /** host:port actually bound (port 0 resolved). */
  address: string;
  port: number;
  service: CertificateService;
  close(): Promise<void>;
}

/** A standalone gRPC server for the CA. Plaintext by default: loopback development only. */
export async function startCaServer(opts: CertificateServiceOptions & { address: string; credentials?: grpc.ServerCredentials }): Promise<CaServer> {
  const service = new CertificateService(opts);
  const server = new grpc.Server();
  service.addTo(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const host = opts.address.slice(0, opts.address.lastIndexOf(":"));
  (opts.logger ?? pino({ level: "silent" })).info({ address: `${host}:${port}`, signer: opts.ca.cert.subject, source: opts.ca.source }, "CA service listening");
  return {
    address: `${host}:${port}`,
    port,
    service,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}
