// Envoy's RetryPolicy -> CompiledRetryPolicy (a bit set and precomputed sets).
import type { RetryPolicy } from "../../xds/envoy-types.ts";
import { RETRY, type CompiledRetryPolicy } from "./types.ts";
import { ConfigInvalid, durationMs } from "./string-match.ts";

const GRPC_CODES: Record<string, string> = {
  cancelled: "1",
  "deadline-exceeded": "4",
  "resource-exhausted": "8",
  internal: "13",
  unavailable: "14",
};

const CONDITIONS: Record<string, number> = {
  "5xx": RETRY.fiveXx,
  "gateway-error": RETRY.gatewayError,
  "connect-failure": RETRY.connectFailure,
  "refused-stream": RETRY.refusedStream,
  reset: RETRY.reset,
  "retriable-status-codes": RETRY.retriableStatusCodes,
  "retriable-4xx": RETRY.retriable4xx,
};

const PREVIOUS_HOSTS = "envoy.retry_host_predicates.previous_hosts";

export function compileRetryPolicy(p: RetryPolicy | undefined, field: string): CompiledRetryPolicy | undefined {
  if (!p) return undefined;
  let on = 0;
  const grpc = new Set<string>();
  for (const raw of String(p.retry_on ?? "").split(",")) {
    const cond = raw.trim();
    if (!cond) continue;
    if (CONDITIONS[cond] !== undefined) on |= CONDITIONS[cond];
    else if (GRPC_CODES[cond] !== undefined) {
      on |= RETRY.grpc;
      grpc.add(GRPC_CODES[cond]);
    }
    // Envoy ignores conditions it does not know; so do we.
  }
  const numRetries = p.num_retries?.value ?? 1; // Envoy's default is 1
  if (!Number.isInteger(numRetries) || numRetries < 0) throw new ConfigInvalid(`${field}.num_retries`, "must be a non-negative integer");
  const codes = new Set<number>();
  for (const c of p.retriable_status_codes ?? []) {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 100 || n > 599) throw new ConfigInvalid(`${field}.retriable_status_codes`, `${String(c)} is not an HTTP status`);
    codes.add(n);
  }
  return {
    on,
    numRetries,
    perTryTimeoutMs: durationMs(p.per_try_timeout, `${field}.per_try_timeout`) ?? 0,
    retriableStatusCodes: codes,
    grpcStatuses: grpc,
    avoidPreviousHosts: (p.retry_host_predicate ?? []).some((h) => h?.name === PREVIOUS_HOSTS),
    hostSelectionMaxAttempts: Math.max(1, Number(p.host_selection_retry_max_attempts ?? 1) || 1),
    otherPriorities: p.retry_priority?.name === "envoy.retry_priorities.previous_priorities",
  };
}
