// Whether a request's span is sampled (recorded and exported), in Envoy's order: the parent's
// decision when the request carries one; else x-envoy-force-trace; else x-client-trace-id
// within client_sampling; else random_sampling. overall_sampling caps the proxy's own
// decisions. An unsampled request still gets ids and passes its context on (sampled = 0).
import type { IncomingHttpHeaders } from "node:http";

export type SamplingReason = "parent" | "forced" | "client" | "random" | "not_sampled";

export interface SamplingPercentages {
  randomSampling: number;
  clientSampling: number;
  overallSampling: number;
}

/** True with probability pct / 100; `random` returns [0, 1). */
function draw(pct: number, random: () => number): boolean {
  return pct >= 100 || (pct > 0 && random() * 100 < pct);
}

export function decideSampling(parent: boolean | undefined, headers: IncomingHttpHeaders, s: SamplingPercentages, random: () => number = Math.random): { sampled: boolean; reason: SamplingReason } {
  if (parent !== undefined) return { sampled: parent, reason: parent ? "parent" : "not_sampled" };
  let reason: SamplingReason = "not_sampled";
  if (headers["x-envoy-force-trace"] !== undefined) reason = "forced";
  else if (headers["x-client-trace-id"] !== undefined && draw(s.clientSampling, random)) reason = "client";
  else if (draw(s.randomSampling, random)) reason = "random";
  if (reason !== "not_sampled" && !draw(s.overallSampling, random)) reason = "not_sampled";
  return { sampled: reason !== "not_sampled", reason };
}
