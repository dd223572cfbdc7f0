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
interface EncodedEntry {
  typeUrl: string;
  any: RawAny;
}
const encodedCache = new WeakMap<object, EncodedEntry>();

function encodeCached(typeUrl: string, resource: object): EncodedEntry {
  const hit = encodedCache.get(resource);
  if (hit && hit.typeUrl === typeUrl) return hit;
  const entry: EncodedEntry = { typeUrl, any: encodeResource(typeUrl, resource) };
  encodedCache.set(resource, entry);
  return entry;
}

/**
 * The subset of `all` a subscription selects (every resource when `wildcard`), encoded and versioned. Throws (with the
 * resource name) when a resource does not encode; the caller keeps what the proxy had.
 * The result is shared between callers: never change it. Nor change `all` after the call:
 * the subset is remembered for that map.
 */
export function encodeSubset(typeUrl: string, all: ReadonlyMap<string, object> | undefined, names: readonly string[], wildcard: boolean): EncodedSubset {
  if (!all) return subsetOf(typeUrl, new Map(), names, wildcard);
  // Maps are never changed once handed over, so (map, subscription) always gives one subset.
  let byNames = subsetsByMap.get(all);
  if (!byNames) subsetsByMap.set(all, (byNames = new Map()));
  const key = wildcard ? "*" : namesKey(names);
  let subset = byNames.get(key);
  if (!subset) {
    subset = subsetOf(typeUrl, all, names, wildcard);
    byNames.set(key, subset);
  }
  return subset;
}

// A push asks every proxy for its subsets; proxies with equal views hold the very same maps
// (mesh-state.ts), and a proxy's subscription is the same array until its next request. So
// the subset is looked up by (map, names) here before any resource in it is looked at: at
// 1000 services this per-proxy walk over every resource was most of a push's CPU.
const subsetsByMap = new WeakMap<ReadonlyMap<string, object>, Map<string, EncodedSubset>>();
const namesKeys = new WeakMap<readonly string[], string>();

function namesKey(names: readonly string[]): string {
  let key = namesKeys.get(names);
  if (key === undefined) {
    key = [...new Set(names)].sort().join("\n");
    namesKeys.set(names, key);
  }
  return key;
}

function subsetOf(typeUrl: string, available: ReadonlyMap<string, object>, names: readonly string[], wildcard: boolean): EncodedSubset {
  const selected = wildcard
    ? [...available.keys()]
    : [...new Set(names)].filter((n) => available.has(n));
  selected.sort();
  const entries: EncodedEntry[] = [];
  for (const name of selected) {
    try {
      entries.push(encodeCached(typeUrl, available.get(name)!));
    } catch (err) {
      throw new Error(`resource "${name}": ${(err as Error).message}`);
    }
  }
  const hash = createHash("sha256");
  const resources: RawAny[] = [];
  selected.forEach((name, i) => {
    const any = entries[i]!.any;
    resources.push(any);
    hash.update(`${name.length}:${name}:${any.value.length}:`);
    hash.update(any.value);
  });
  // Frozen: response-wire.ts keeps the encoding of this very list for every proxy it goes to.
  return { version: hash.digest("hex").slice(0, 16), names: selected, resources: Object.freeze(resources) as RawAny[] };
}
