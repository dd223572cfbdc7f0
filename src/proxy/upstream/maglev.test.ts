import { test } from "node:test";
import assert from "node:assert/strict";
import type { EndpointAddress } from "../state/types.ts";
import { isPrime, MaglevBalancer } from "./maglev.ts";
import { xxhash64 } from "./hash.ts";

function ep(n: number, weight = 1): EndpointAddress {
  const host = `10.0.1.${n}`;
  return { host, port: 9090, key: `${host}:9090`, healthy: true, healthStatus: "HEALTHY", weight, socketMatch: undefined, tls: undefined };
}

const M = 65537;
const keys = Array.from({ length: 10_000 }, (_, i) => xxhash64(`cart-${i}`));

function owners(b: MaglevBalancer): string[] {
  return keys.map((h) => b.pick(undefined, h)!.key);
}

function shares(picks: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of picks) m.set(k, (m.get(k) ?? 0) + 1 / picks.length);
  return m;
}

test("the same hash always reaches the same host, on every balancer built for the same hosts", () => {
  const hosts = [ep(1), ep(2), ep(3)];
  const first = owners(new MaglevBalancer(hosts, M));
  assert.deepEqual(owners(new MaglevBalancer(hosts, M)), first);
  // The table does not depend on the order the hosts arrive in.
  assert.deepEqual(owners(new MaglevBalancer([...hosts].reverse(), M)), first);
  for (const [host, share] of shares(first)) assert.ok(Math.abs(share - 1 / 3) < 0.03, `${host}: ${share}`);
});

test("weights decide each host's share of the table", () => {
  const s = shares(owners(new MaglevBalancer([ep(1, 1), ep(2, 3)], M)));
  assert.ok(Math.abs(s.get(ep(1).key)! - 0.25) < 0.03, JSON.stringify([...s]));
  const scaled = shares(owners(new MaglevBalancer([ep(1), ep(2), ep(3)], M, [0.2, 0.8, 0])));
  assert.ok(Math.abs(scaled.get(ep(2).key)! - 0.8) < 0.03, JSON.stringify([...scaled]));
  assert.equal(scaled.get(ep(3).key), undefined, "weight 0: no slot");
});

test("when one of N hosts leaves about 1/N of the keys move", () => {
  const all = [ep(1), ep(2), ep(3), ep(4)];
  const before = owners(new MaglevBalancer(all, M));
  const after = owners(new MaglevBalancer(all.filter((e) => e.key !== ep(2).key), M));
  let moved = 0;
  before.forEach((o, i) => {
    if (o !== after[i]) moved++;
    if (o === ep(2).key) assert.notEqual(after[i], ep(2).key);
  });
  assert.ok(moved / keys.length < 0.25 + 0.03, `moved ${moved / keys.length}`);
  assert.deepEqual(owners(new MaglevBalancer(all, M)), before, "the host's return restores the old mapping");
});

test("a small prime table, retries that avoid a host, no hash, no hosts", () => {
  const b = new MaglevBalancer([ep(1), ep(2), ep(3)], 13);
  const h = xxhash64("k");
  const first = b.pick(undefined, h)!;
  const other = b.pick([first], h)!;
  assert.notEqual(other.key, first.key);
  assert.equal(b.pick([ep(1), ep(2), ep(3)], h)!.key, first.key, "all avoided: the hashed host anyway");
  assert.equal(new Set(Array.from({ length: 200 }, () => b.pick(undefined)!.key)).size, 3);
  assert.equal(new MaglevBalancer([], M).pick(undefined, h), undefined);
});

test("isPrime tells Maglev table sizes apart", () => {
  assert.deepEqual([2, 3, 13, 65537, 5000011].map(isPrime), [true, true, true, true, true]);
  assert.deepEqual([0, 1, 4, 65536, 1.5, -7].map(isPrime), [false, false, false, false, false, false]);
});
