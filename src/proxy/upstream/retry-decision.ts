// Whether a try's outcome is retried under a compiled retry policy, and Envoy's jittered
// exponential back-off (25 ms base, 250 ms cap).
import { RETRY, type CompiledRetryPolicy } from "../state/types.ts";
import type { IncomingMessage } from "node:http";

export const BACKOFF_BASE_MS = 25;
export const BACKOFF_MAX_MS = 250;

export function retryOnFailure(p: CompiledRetryPolicy, kind: "connect-failure" | "reset" | "timeout"): boolean {
  const anyFailure = RETRY.fiveXx | RETRY.gatewayError;
  if (kind === "connect-failure") return (p.on & (anyFailure | RETRY.connectFailure | RETRY.reset)) !== 0;
  // A reset or a per-try timeout: the upstream did not answer.
  return (p.on & (anyFailure | RETRY.reset)) !== 0;
}

export function retryOnResponse(p: CompiledRetryPolicy, res: IncomingMessage): boolean {
  const s = res.statusCode ?? 0;
  if (p.on & RETRY.fiveXx && s >= 500) return true;
  if (p.on & RETRY.gatewayError && (s === 502 || s === 503 || s === 504)) return true;
  if (p.on & RETRY.retriableStatusCodes && p.retriableStatusCodes.has(s)) return true;
  if (p.on & RETRY.retriable4xx && s === 409) return true;
  if (p.on & RETRY.grpc) {
    const g = res.headers["grpc-status"];
    if (typeof g === "string" && p.grpcStatuses.has(g)) return true;
  }
  return false;
}

/** Back-off before retry number n (1-based): uniform in [0, min(base * 2^(n-1), max)). */
export function backoffMs(n: number): number {
  const ceiling = Math.min(BACKOFF_BASE_MS * 2 ** Math.min(n - 1, 10), BACKOFF_MAX_MS);
  return Math.floor(Math.random() * ceiling);
}
