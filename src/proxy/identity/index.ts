// The sidecar's workload identity: certificate from the mesh CA, rotation, and node:tls options.
export { WorkloadIdentityManager, DEFAULT_CA_SERVER_NAME, type WorkloadIdentityOptions, type RotateListener } from "./workload-identity.ts";
export type { WorkloadCertificate } from "./validate-chain.ts";
export type { WorkloadKeyType } from "./workload-key.ts";
export { serverTlsOptions, clientTlsOptions, peerPrincipal, isTlsClientHello, secureContextFor, selectServerAlpn, SERVER_ALPN, ISTIO_MTLS_ALPN_HTTP11, ISTIO_MTLS_ALPN_H2, TLS_SNIFF_BYTES, type ServerTlsSettings, type ClientTlsSettings } from "./tls-contexts.ts";
export { IdentityError, isIdentityError, type IdentityErrorCode } from "./errors.ts";
