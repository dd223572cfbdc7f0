// The control plane's security wiring: the mesh CA (self-signed root kept under the data
// directory, or an operator's cacerts), the bootstrap-token store, the TLS credentials that
// xDS and the CA are served with on 15012, and the rule that decides who may open an ADS
// stream for which workload.
//
// Who may speak for a workload: whoever holds a bootstrap token for its identity (see
// src/ca/tokens.ts). A sidecar sends the token on its CSR and again on its ADS stream; a
// stream whose node claims another namespace or service account than its token is refused,
// so a workload can neither fetch another's config nor register itself as another's endpoint.
import { status as GrpcStatus, ServerCredentials, type Metadata } from "@grpc/grpc-js";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { Logger } from "pino";
import { BootstrapTokens, CertificateService, bearerToken, certificateServiceDefinition, isCaError, issueServingCertificate, loadCa, type SigningCa } from "../ca/index.ts";
import type { ProxyNode } from "../xds/node.ts";
import { silentLogger } from "../log/logger.ts";

export interface SecurityOptions {
  /** Holds ca/ (the self-signed root) and tokens.json (hashes of bootstrap tokens). */
  dataDir: string;
  /** Istio's cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); wins when present. */
  pluggedCaDir?: string;
  trustDomain: string;
  /** Default workload certificate lifetime in seconds (Istio: 24 h). */
  certLifetimeSeconds?: number;
  /** Extra DNS names / IPs on the control plane's serving certificate (its listen host is added). */
  serverNames?: readonly string[];
  /** Streams without a token are accepted (only with the plaintext development port). */
  allowAnonymousAds: boolean;
  logger?: Logger;
}

export interface ControlSecurity {
  ca: SigningCa;
  tokens: BootstrapTokens;
  certificates: CertificateService;
  /** TLS for 15012: the serving certificate chains to the mesh root; clients need no certificate. */
  credentials: ServerCredentials;
  rootPem: string;
  /** The PEM file sidecars are told to trust (the self-signed root, or cacerts/root-cert.pem). */
  rootFile: string;
  services: { definition: typeof certificateServiceDefinition; implementation: ReturnType<CertificateService["handlers"]> }[];
  authorizeAds(node: ProxyNode, metadata: Metadata): { code: GrpcStatus; message: string } | undefined;
  /** ADS streams refused, by reason. */
  adsRefused: Map<string, number>;
}

export const TOKEN_STORE_FILE = "tokens.json";

export function caDirOf(dataDir: string): string {
  return join(dataDir, "ca");
}

export async function setupSecurity(opts: SecurityOptions): Promise<ControlSecurity> {
  const logger = opts.logger ?? silentLogger;
  // The token store lives here even when an operator's cacerts replace the self-signed root.
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const caLog = logger.child({ name: "ca" });
  const ca = await loadCa({ dir: caDirOf(opts.dataDir), pluggedDir: opts.pluggedCaDir, trustDomain: opts.trustDomain, logger: caLog });
  const tokens = new BootstrapTokens({ file: join(opts.dataDir, TOKEN_STORE_FILE) });
  const certificates = new CertificateService({
    ca,
    tokens,
    trustDomain: opts.trustDomain,
    logger: caLog,
    ...(opts.certLifetimeSeconds ? { lifetime: { defaultSeconds: opts.certLifetimeSeconds } } : {}),
  });
  const serving = await issueServingCertificate(ca, { names: opts.serverNames });
  const credentials = ServerCredentials.createSsl(Buffer.from(ca.rootPem), [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certChainPem) }], false);
  const rootFile = join(ca.dir, "root-cert.pem"); // same name in both layouts
  const adsRefused = new Map<string, number>();
  const refuse = (reason: string, code: GrpcStatus, message: string) => {
    adsRefused.set(reason, (adsRefused.get(reason) ?? 0) + 1);
    return { code, message };
  };
  return {
    ca,
    tokens,
    certificates,
    credentials,
    rootPem: ca.rootPem,
    rootFile,
    services: [{ definition: certificateServiceDefinition, implementation: certificates.handlers() }],
    adsRefused,
    authorizeAds(node, metadata) {
      let token: string | undefined;
      try {
        token = bearerToken(metadata.get("authorization"));
      } catch (e) {
        return refuse("bad_token", GrpcStatus.UNAUTHENTICATED, (e as Error).message);
      }
      if (token === undefined && opts.allowAnonymousAds) return undefined;
      try {
        const id = tokens.verify(token);
        if (node.type === "sidecar" && (id.namespace !== node.namespace || id.serviceAccount !== node.serviceAccount)) {
          return refuse(
            "identity_mismatch",
            GrpcStatus.PERMISSION_DENIED,
            `the token is for namespace "${id.namespace}", service account "${id.serviceAccount}" but the proxy says it is ${node.namespace}/${node.serviceAccount}; start the sidecar with the namespace and service account its token was issued for`,
          );
        }
        return undefined;
      } catch (e) {
        const reason = isCaError(e) ? e.reason : "bad_token";
        return refuse(reason, GrpcStatus.UNAUTHENTICATED, (e as Error).message);
      }
    },
  };
}
