// Istio's retry policy: defaults when a route says nothing, the route's own otherwise.
import type { RetryPolicy } from "../xds/envoy-types.ts";
import { num, str, type Obj } from "../registry/read-spec.ts";
import { toDuration } from "./duration.ts";

export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const PREVIOUS_HOSTS = "envoy.retry_host_predicates.previous_hosts";

export function defaultRetryPolicy(): RetryPolicy {
  return {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: { value: 2 },
    retry_host_predicate: [{ name: PREVIOUS_HOSTS }],
    host_selection_retry_max_attempts: 5,
  };
}

/** Numbers in retryOn are status codes (Istio moves them to retriable_status_codes). */
function splitRetryOn(value: string): { on: string; codes: number[] } {
  const conditions: string[] = [];
  const codes: number[] = [];
  for (const raw of value.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    if (/^\d{3}$/.test(part)) codes.push(Number(part));
    else conditions.push(part);
  }
  if (codes.length && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
  return { on: conditions.join(","), codes };
}

/** undefined = no retries (attempts 0). */
export function retryPolicy(retries: Obj | undefined): RetryPolicy | undefined {
  if (!retries) return defaultRetryPolicy();
  const attempts = num(retries.attempts) ?? 0;
  if (attempts <= 0) return undefined;
  const out: RetryPolicy = { ...defaultRetryPolicy(), num_retries: { value: attempts } };
  const on = str(retries.retryOn);
  if (on) {
    const split = splitRetryOn(on);
    out.retry_on = split.on;
    if (split.codes.length) out.retriable_status_codes = split.codes;
  }
  const perTry = toDuration(retries.perTryTimeout);
  if (perTry) out.per_try_timeout = perTry;
  // Istio: retries may go to other localities (Envoy's previous_priorities, updated every 2 tries).
  if (retries.retryRemoteLocalities === true) {
    out.retry_priority = {
      name: "envoy.retry_priorities.previous_priorities",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", update_frequency: 2 },
    };
  }
  return out;
}
