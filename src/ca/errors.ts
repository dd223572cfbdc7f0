// Coded errors of the certificate authority. Every refusal names what was wrong and how to fix
// it; `reason` is the short label the CA service counts refusals by (stats().refused).
//
// Codes (to be listed in docs/errors.md when the CA is wired in):
//   MIZZEN_E_CA_STORE        the CA directory or its files cannot be read, written or trusted
//   MIZZEN_E_CA_IDENTITY     a SPIFFE ID or one of its parts is malformed
//   MIZZEN_E_CA_CSR          the CSR is not a valid PKCS#10 request or its signature is wrong
//   MIZZEN_E_CA_SAN_MISMATCH the CSR asks for a name the caller is not entitled to
//   MIZZEN_E_CA_LIFETIME     a requested or configured certificate lifetime is out of range
//   MIZZEN_E_CA_TOKEN        a bootstrap token is missing, malformed or unknown

export type CaErrorCode =
  | "MIZZEN_E_CA_STORE"
  | "MIZZEN_E_CA_IDENTITY"
  | "MIZZEN_E_CA_CSR"
  | "MIZZEN_E_CA_SAN_MISMATCH"
  | "MIZZEN_E_CA_LIFETIME"
  | "MIZZEN_E_CA_TOKEN";

export class CaError extends Error {
  readonly code: CaErrorCode;
  /** Short machine label, e.g. "bad_csr", used as the refusal counter's key. */
  readonly reason: string;

  constructor(code: CaErrorCode, reason: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "CaError";
    this.code = code;
    this.reason = reason;
  }
}

export function isCaError(e: unknown): e is CaError {
  return e instanceof CaError;
}
