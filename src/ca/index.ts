// The certificate authority's public surface (see each module for the design).
export { CaError, isCaError, type CaErrorCode } from "./errors.ts";
export { formatSpiffeId, parseSpiffeId, sameIdentity, workloadIdentity, type WorkloadIdentity } from "./identity.ts";
export { loadCa, loadOrCreateSelfSignedRoot, loadPluggedCa, PLUGGED_FILES, SELF_SIGNED_FILES, type SigningCa, type SelfSignedRootOptions, type PluggedCaOptions } from "./root.ts";
export { lifetimePolicy, resolveLifetime, signCsr, readCsr, DEFAULT_LIFETIME_SECONDS, DEFAULT_MAX_LIFETIME_SECONDS, type IssuedCertificate, type LifetimePolicy, type SignRequest } from "./sign.ts";
export { BootstrapTokens, type BootstrapTokensOptions } from "./tokens.ts";
export { CertificateService, startCaServer, bearerToken, type CaServer, type CaStats, type CertificateServiceOptions, type TokenVerifier } from "./service.ts";
export { certificateServiceDefinition, CREATE_CERTIFICATE_PATH } from "./proto.ts";
export { requestCertificate, type CertificateRequestOptions } from "./client.ts";
export { issueServingCertificate, CONTROL_PLANE_SERVER_NAME, type ServingCertificate } from "./serving-cert.ts";
