// Round-robin endpoint choice over a cluster's healthy endpoints, optionally avoiding hosts a
// previous attempt used (Envoy's previous_hosts retry predicate).
import type { EndpointAddress } from "../state/types.ts";
import type { ClusterRuntime } from "./cluster-runtime.ts";

export function pickRoundRobin(list: EndpointAddress[], rt: ClusterRuntime, avoid: EndpointAddress[] | undefined): EndpointAddress | undefined {
  const n = list.length;
  if (n === 0) return undefined;
  if (n === 1) return list[0];
  for (let i = 0; i < n; i++) {
    const ep = list[rt.cursor % n];
    rt.cursor = (rt.cursor + 1) % 0x40000000;
    if (!avoid || !avoid.includes(ep)) return ep;
  }
  // Every host was tried already: take the next one anyway.
  const ep = list[rt.cursor % n];
  rt.cursor = (rt.cursor + 1) % 0x40000000;
  return ep;
}
