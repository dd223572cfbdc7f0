// Maglev (Google's consistent hash, Envoy's MAGLEV): a lookup table of prime size M (65537 by
// default) where each slot names a host; a request goes to slot hash mod M. Every host walks
// its own permutation of the slots (start = xxHash64(key) mod M, step = xxHash64(key, seed 1)
// mod (M-1) + 1, Envoy's choice of seeds) and the hosts take turns claiming the next free slot
// on theirs; a host of weight w takes a turn in w/max of the rounds, so slots follow weights.
// Lookups are one array read; when a host leaves, most slots of the others stay theirs.
import type { EndpointAddress } from "../state/types.ts";
import { isAvoided, type Balancer } from "./balancer.ts";
import { randomHash, xxhash64 } from "./hash.ts";

/** Envoy's default table size (prime). */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

export class MaglevBalancer implements Balancer {
  private readonly hosts: readonly EndpointAddress[];
  /** Host index per slot; empty when no host has weight. */
  private readonly table: Uint16Array | Uint32Array;
  private readonly tableSize: bigint;

  /** `tableSize` must be prime; `weights` (aligned with `list`) replace the endpoints' own weights. */
  constructor(list: readonly EndpointAddress[], tableSize: number, weights?: readonly number[]) {
    this.hosts = list;
    this.tableSize = BigInt(tableSize);
    const w = list.map((e, i) => Math.max(0, weights ? weights[i] ?? 0 : e.weight));
    // Hosts take turns in key order, so the table does not depend on the order they arrive in.
    const live = w.map((x, i) => i).filter((i) => w[i] > 0).sort((a, b) => (list[a].key < list[b].key ? -1 : list[a].key > list[b].key ? 1 : 0));
    if (live.length === 0) {
      this.table = new Uint32Array(0);
      return;
    }
    const m = tableSize;
    const empty = live.length < 0xffff ? 0xffff : 0xffffffff;
    const table = live.length < 0xffff ? new Uint16Array(m) : new Uint32Array(m);
    table.fill(empty);
    const heaviest = Math.max(...live.map((i) => w[i]));
    const walkers = live.map((i) => {
      const key = list[i].key;
      return {
        host: i,
        offset: Number(xxhash64(key, 0n) % this.tableSize),
        skip: Number(xxhash64(key, 1n) % BigInt(m - 1)) + 1,
        next: 0,
        credit: 0,
        weight: w[i],
      };
    });
    let filled = 0;
    while (filled < m) {
      for (const h of walkers) {
        h.credit += h.weight;
        if (h.credit < heaviest) continue;
        h.credit -= heaviest;
        let slot = (h.offset + h.next * h.skip) % m;
        while (table[slot] !== empty) {
          h.next++;
          slot = (h.offset + h.next * h.skip) % m;
        }
        table[slot] = h.host;
        h.next++;
        if (++filled === m) break;
      }
    }
    this.table = table;
  }

  pick(avoid: readonly EndpointAddress[] | undefined, hash?: bigint): EndpointAddress | undefined {
    if (this.table.length === 0) return undefined;
    const h = hash ?? randomHash();
    const first = this.hosts[this.table[Number(h % this.tableSize)]];
    if (!avoid || !isAvoided(first, avoid)) return first;
    // A retry that must avoid earlier hosts rehashes with the attempt number (as Envoy does).
    for (let attempt = 1; attempt < this.hosts.length * 4; attempt++) {
      const ep = this.hosts[this.table[Number(xxhash64(h.toString(16), BigInt(attempt)) % this.tableSize)]];
      if (!isAvoided(ep, avoid)) return ep;
    }
    return first;
  }
}

/** Whether n is a prime (Envoy requires Maglev tables of prime size). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
