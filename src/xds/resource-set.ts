// What one response for one type carries: the subset of a proxy's resources it subscribed to,
// encoded, and a version derived from exactly those bytes. Equal content gives an equal
// version on any server instance, so "nothing changed" needs no bookkeeping and a restarted
// control plane recognises a reconnecting proxy's version.
import { createHash } from "node:crypto";
import { TYPE } from "./envoy-types.ts";
import { encodeResource } from "./protos.ts";
import type { RawAny } from "./ads-service.ts";

/** LDS and CDS subscriptions may be wildcards: "*" (or, legacy, empty names) mean "all of them". */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TYPE.listener || typeUrl === TYPE.cluster;
}

/**
 * xDS rules: "*" asks for everything; an empty list does too ("legacy wildcard"), but only
 * while the stream has never named resources of this type (`emptyMeansAll`). After names,
 * an empty list means "none". RDS and EDS have no wildcard: empty is always "none".
 */
export function isWildcardRequest(typeUrl: string, names: readonly string[], emptyMeansAll = true): boolean {
  return isWildcardType(typeUrl) && ((names.length === 0 && emptyMeansAll) || names.includes("*"));
}

export interface EncodedSubset {
  version: string;
  names: string[];
  resources: RawAny[];
}

// Resources are treated as immutable once a translator returns them, so the bytes can be
// cached per object; a translator that reuses an unchanged object costs no re-encoding.
const encodedCache = new WeakMap<object, { typeUrl: string; any: RawAny }>();

function encodeCached(typeUrl: string, resource: object): RawAny {
  const hit = encodedCache.get(resource);
  if (hit && hit.typeUrl === typeUrl) return hit.any;
  const any = encodeResource(typeUrl, resource);
  encodedCache.set(resource, { typeUrl, any });
  return any;
}

/**
 * The subset of `all` a subscription selects (every resource when `wildcard`), encoded and versioned. Throws (with the
 * resource name) when a resource does not encode; the caller keeps what the proxy had.
 */
export function encodeSubset(typeUrl: string, all: ReadonlyMap<string, object> | undefined, names: readonly string[], wildcard: boolean): EncodedSubset {
  const available = all ?? new Map<string, object>();
  const selected = wildcard
    ? [...available.keys()]
    : [...new Set(names)].filter((n) => available.has(n));
  selected.sort();
  const hash = createHash("sha256");
  const resources: RawAny[] = [];
  for (const name of selected) {
    let any: RawAny;
    try {
      any = encodeCached(typeUrl, available.get(name)!);
    } catch (err) {
      throw new Error(`resource "${name}": ${(err as Error).message}`);
    }
    resources.push(any);
    hash.update(`${name.length}:${name}:${any.value.length}:`);
    hash.update(any.value);
  }
  return { version: hash.digest("hex").slice(0, 16), names: selected, resources };
}
