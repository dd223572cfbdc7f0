// The label keys that workload selectors of the security kinds name. A proxy's listener view
// keeps only these labels (plus Telemetry's), so proxies that differ in other labels share
// one translation.
import type { ConfigObject } from "../api/types.ts";
import { obj } from "../registry/read-spec.ts";

const SELECTING_KINDS = new Set(["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"]);

export function securityLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) {
    if (!SELECTING_KINDS.has(o.kind)) continue;
    for (const k of Object.keys(obj(obj(o.spec.selector)?.matchLabels) ?? {})) keys.add(k);
  }
  return keys;
}
