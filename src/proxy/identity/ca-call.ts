// One CreateCertificate call to the mesh CA over TLS, with every failure turned into an
// IdentityError that says what went wrong and what to change.
//
// It is src/ca/client.ts's requestCertificate with channel options: the CA is usually dialled
// by IP (127.0.0.1:15012) while its certificate names a DNS name ("mizzen-control",
// "istiod.istio-system.svc"), so the TLS server name is overridden. Overriding it through the
// channel (rather than only checkServerIdentity) also sends that name as SNI, and keeps Node
// from warning about an IP address used as a TLS server name.
import * as grpc from "@grpc/grpc-js";
import { requestCertificate } from "../../ca/client.ts";
import { IdentityError } from "./errors.ts";

export interface CaCallOptions {
  /** host:port */
  caAddress: string;
  /** DNS name the CA's certificate must carry. */
  caServerName: string;
  /** Built once per manager: grpc.credentials.createSsl(mesh root). */
  credentials: grpc.ChannelCredentials;
  token: string;
  csrPem: string;
  /** 0 = the CA's default. */
  validitySeconds: number;
  metadata?: Record<string, string>;
  timeoutMs: number;
}

export function caCredentials(rootPem: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(rootPem, "utf8"));
}

/** The chain the CA answered (leaf first, root last); throws an IdentityError. */
export async function requestSignedChain(opts: CaCallOptions): Promise<string[]> {
  try {
    return await requestCertificate({
      address: opts.caAddress,
      csrPem: opts.csrPem,
      token: opts.token,
      validitySeconds: opts.validitySeconds,
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
      credentials: opts.credentials,
      channelOptions: { "grpc.ssl_target_name_override": opts.caServerName, "grpc.default_authority": opts.caServerName },
      deadlineMs: opts.timeoutMs,
    });
  } catch (err) {
    throw classifyCaError(err as grpc.ServiceError, opts);
  }
}

// What a failed TLS handshake looks like in grpc-js's "Last error" text (OpenSSL and Node wording).
const TLS_FAILURE = /certificate|altname|self[- ]signed|verify|ssl|tls|handshake|wrong version number|packet length/i;

/** grpc-js's connection failure text without its wrapping, and OpenSSL's error stack cut to its reason. */
export function conciseDetails(text: string): string {
  let d = text.replace(/^No connection established\. Last error: /, "").replace(/\.? ?Resolution note:.*$/s, "");
  d = d.replace(/^Error(?: \[[A-Z_]+\])?: /, "");
  const ssl = /:SSL routines:[^:]*:([^:]+):/.exec(d);
  return (ssl ? ssl[1]! : d).trim();
}

/** Maps a gRPC failure to the IdentityError an operator can act on. Exported for tests. */
export function classifyCaError(err: grpc.ServiceError, where: { caAddress: string; caServerName: string }): IdentityError {
  const details = conciseDetails(err.details || err.message);
  const at = `the CA at ${where.caAddress}`;
  switch (err.code) {
    case grpc.status.UNAUTHENTICATED:
      return new IdentityError("MIZZEN_E_IDENTITY_TOKEN", "token_refused", `${at} refused the bootstrap token: ${details} (give this sidecar the token the control plane issued for its workload)`);
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
      return new IdentityError("MIZZEN_E_IDENTITY_REFUSED", `refused_${grpc.status[err.code]!.toLowerCase()}`, `${at} refused the certificate request: ${details}`);
    case grpc.status.UNAVAILABLE:
      if (TLS_FAILURE.test(details)) {
        return new IdentityError(
          "MIZZEN_E_IDENTITY_CA_TLS",
          "ca_tls",
          `TLS to ${at} failed: ${details} (the CA's certificate must chain to the configured mesh root and carry the DNS name "${where.caServerName}"; check the root PEM, caServerName, and that ${where.caAddress} is the CA's TLS port)`,
        );
      }
      return new IdentityError("MIZZEN_E_IDENTITY_CA_UNREACHABLE", "ca_unreachable", `${at} is unreachable: ${details} (is the control plane running, and is the address right?)`);
    case grpc.status.DEADLINE_EXCEEDED:
      return new IdentityError("MIZZEN_E_IDENTITY_CA_UNREACHABLE", "ca_timeout", `${at} did not answer in time: ${details}`);
    case grpc.status.UNIMPLEMENTED:
      return new IdentityError("MIZZEN_E_IDENTITY_CA_UNREACHABLE", "ca_unimplemented", `${at} does not serve IstioCertificateService (is this the control plane's CA port?): ${details}`);
    default:
      return new IdentityError("MIZZEN_E_IDENTITY_CA_UNREACHABLE", `ca_${(grpc.status[err.code] ?? "error").toLowerCase()}`, `${at} failed the request (${grpc.status[err.code] ?? err.code}): ${details}`);
  }
}
