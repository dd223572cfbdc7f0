// Workload health on the ADS stream, as Istio's agent reports it for auto-registered
// workloads: a DiscoveryRequest whose type_url is HealthInformation, with no resource names.
// No error_detail means healthy; error_detail (message = why) means unhealthy. It is a report,
// not a subscription: the server never answers it.
import type { DiscoveryRequestMessage } from "./ads-service.ts";

export const HEALTH_INFO_TYPE = "type.googleapis.com/istio.v1.HealthInformation";

/** Status code put in error_detail for an unhealthy report (Istio's agent uses 500 too). */
const UNHEALTHY_CODE = 500;

export interface HealthReport {
  healthy: boolean;
  /** Why the application is unhealthy; absent when healthy. */
  message?: string;
}

/** The request body for a report (the caller adds the node when it is a stream's first). */
export function healthRequest(report: HealthReport): Partial<DiscoveryRequestMessage> {
  const req: Partial<DiscoveryRequestMessage> = { type_url: HEALTH_INFO_TYPE, resource_names: [], version_info: "", response_nonce: "" };
  if (!report.healthy) req.error_detail = { code: UNHEALTHY_CODE, message: report.message || "application unhealthy" };
  return req;
}

/** Reads a HealthInformation request; an empty error_detail counts as absent (healthy). */
export function readHealthReport(req: DiscoveryRequestMessage): HealthReport {
  const err = req.error_detail;
  if (err && (err.code || err.message)) return { healthy: false, message: err.message || `error code ${err.code}` };
  return { healthy: true };
}
