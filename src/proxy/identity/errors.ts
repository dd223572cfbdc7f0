// Coded errors of the sidecar's workload identity. Each names what failed and how to fix it;
// `reason` is the short label a failure is logged (once per streak) and classified by.
//
// Codes (to be listed in docs/errors.md when identity is wired in):
//   MIZZEN_E_IDENTITY_CONFIG          the identity options are wrong (root PEM, address, ratios)
//   MIZZEN_E_IDENTITY_TOKEN           the CA refused the bootstrap token
//   MIZZEN_E_IDENTITY_REFUSED         the CA refused the request for another reason (CSR, lifetime)
//   MIZZEN_E_IDENTITY_CA_UNREACHABLE  no answer from the CA (down, wrong address, timed out)
//   MIZZEN_E_IDENTITY_CA_TLS          the CA's TLS certificate did not verify against the mesh root
//   MIZZEN_E_IDENTITY_BAD_RESPONSE    the CA answered a chain this sidecar cannot use
//   MIZZEN_E_TLS_SAN_MISMATCH         a peer's certificate is not one of the identities expected

export type IdentityErrorCode =
  | "MIZZEN_E_IDENTITY_CONFIG"
  | "MIZZEN_E_IDENTITY_TOKEN"
  | "MIZZEN_E_IDENTITY_REFUSED"
  | "MIZZEN_E_IDENTITY_CA_UNREACHABLE"
  | "MIZZEN_E_IDENTITY_CA_TLS"
  | "MIZZEN_E_IDENTITY_BAD_RESPONSE"
  | "MIZZEN_E_TLS_SAN_MISMATCH";

export class IdentityError extends Error {
  readonly code: IdentityErrorCode;
  /** Short machine label, e.g. "ca_unreachable", "token_refused". */
  readonly reason: string;

  constructor(code: IdentityErrorCode, reason: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "IdentityError";
    this.code = code;
    this.reason = reason;
  }
}

export function isIdentityError(e: unknown): e is IdentityError {
  return e instanceof IdentityError;
}

/** Failures that the same request cannot fix by being sent again (start() stops retrying). */
export function isPermanent(e: unknown): boolean {
  return isIdentityError(e) && (e.code === "MIZZEN_E_IDENTITY_TOKEN" || e.code === "MIZZEN_E_IDENTITY_REFUSED" || e.code === "MIZZEN_E_IDENTITY_CONFIG");
}
