// DestinationRule loadBalancer.consistentHash, Istio's way, in its two halves:
// - on the cluster: RING_HASH (ringHash, or neither ringHash nor maglev, with the deprecated
//   consistentHash.minimumRingSize or 1024) or MAGLEV, with ring_hash_lb_config /
//   maglev_lb_config when a size is given;
// - on the routes to that destination: a hash_policy entry from the hash key (httpHeaderName,
//   httpCookie, useSourceIp, httpQueryParameterName). Which consistentHash applies to a route
//   destination follows pilot: the subset's port-level setting, the subset's, the top-level
//   port-level setting (only when the destination names its port), then the top level.
import type { Cluster, HashPolicy } from "../xds/envoy-types.ts";
import { num, obj, objs, str, type Obj } from "../registry/read-spec.ts";
import type { AppliedRule } from "./destination-rules.ts";
import { toDuration } from "./duration.ts";

/** Istio's ring size when consistentHash names neither ringHash nor maglev (Envoy's default too). */
export const DEFAULT_MIN_RING_SIZE = 1024;
/** Envoy's limits: it refuses a whole CDS update with a ring or table beyond them. */
const MAX_RING_SIZE = 8_388_608;
const MAX_TABLE_SIZE = 5_000_011;

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Sizes a proxy would refuse (and with them every cluster of the update): the translator
 * leaves them out, so Envoy's defaults apply, and says why.
 */
export function consistentHashProblems(lb: Obj | undefined): string[] {
  const ch = obj(lb?.consistentHash);
  if (!ch) return [];
  const out: string[] = [];
  const table = num(obj(ch.maglev)?.tableSize);
  if (table && (!isPrime(table) || table > MAX_TABLE_SIZE)) out.push(`maglev.tableSize ${table} must be a prime number up to ${MAX_TABLE_SIZE} (e.g. 65537, the default); the default is used`);
  for (const [field, size] of [["ringHash.minimumRingSize", num(obj(ch.ringHash)?.minimumRingSize)], ["minimumRingSize", num(ch.minimumRingSize)]] as const) {
    if (size && size > MAX_RING_SIZE) out.push(`${field} ${size} is larger than ${MAX_RING_SIZE}, the most a ring may have; ${MAX_RING_SIZE} is used`);
  }
  return out;
}

/** Sets lb_policy and its config on a cluster whose policy has consistentHash; false when it has none. */
export function applyConsistentHash(c: Cluster, lb: Obj | undefined): boolean {
  const ch = obj(lb?.consistentHash);
  if (!ch) return false;
  const maglev = obj(ch.maglev);
  const ring = obj(ch.ringHash);
  if (maglev) {
    c.lb_policy = "MAGLEV";
    const size = num(maglev.tableSize);
    if (size && isPrime(size) && size <= MAX_TABLE_SIZE) c.maglev_lb_config = { table_size: { value: size } };
  } else if (ring) {
    c.lb_policy = "RING_HASH";
    const size = num(ring.minimumRingSize);
    if (size) c.ring_hash_lb_config = { minimum_ring_size: { value: Math.min(size, MAX_RING_SIZE) } };
  } else {
    c.lb_policy = "RING_HASH";
    c.ring_hash_lb_config = { minimum_ring_size: { value: Math.min(num(ch.minimumRingSize) || DEFAULT_MIN_RING_SIZE, MAX_RING_SIZE) } };
  }
  return true;
}

/** The route hash policy for a consistentHash; undefined when it names no key. */
export function hashPolicyOf(ch: Obj | undefined): HashPolicy | undefined {
  if (!ch) return undefined;
  const header = str(ch.httpHeaderName);
  if (header) return { header: { header_name: header } };
  const cookie = obj(ch.httpCookie);
  if (cookie && str(cookie.name)) {
    const ttl = toDuration(cookie.ttl);
    const path = str(cookie.path);
    return { cookie: { name: str(cookie.name) ?? "", ...(ttl ? { ttl } : {}), ...(path ? { path } : {}) } };
  }
  if (ch.useSourceIp === true) return { connection_properties: { source_ip: true } };
  const query = str(ch.httpQueryParameterName);
  if (query) return { query_parameter: { name: query } };
  return undefined;
}

function consistentHashOf(policy: unknown): Obj | undefined {
  return obj(obj(obj(policy)?.loadBalancer)?.consistentHash);
}

function portLevel(policy: unknown, port: number): Obj | undefined {
  return objs(obj(policy)?.portLevelSettings).find((pl) => num(obj(pl.port)?.number) === port);
}

/** Istio's hashForHTTPDestination: `explicitPort` only when the VirtualService destination names one. */
export function destinationConsistentHash(rule: AppliedRule | undefined, subset: string, explicitPort: number | undefined): Obj | undefined {
  if (!rule) return undefined;
  const top = rule.rule.spec.trafficPolicy;
  const sub = subset ? objs(rule.rule.spec.subsets).find((s) => str(s.name) === subset)?.trafficPolicy : undefined;
  if (explicitPort !== undefined) {
    const subPort = sub ? consistentHashOf(portLevel(sub, explicitPort)) : undefined;
    if (subPort) return subPort;
  }
  const subHash = consistentHashOf(sub);
  if (subHash) return subHash;
  const topPort = explicitPort !== undefined ? consistentHashOf(portLevel(top, explicitPort)) : undefined;
  return topPort ?? consistentHashOf(top);
}

/** Istio's hashForService (a service without a VirtualService): the port's setting when it has a consistentHash, else the top level. */
export function serviceConsistentHash(rule: AppliedRule | undefined, port: number): Obj | undefined {
  if (!rule) return undefined;
  const top = rule.rule.spec.trafficPolicy;
  return consistentHashOf(portLevel(top, port)) ?? consistentHashOf(top);
}
