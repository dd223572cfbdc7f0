import { test } from "node:test";
import assert from "node:assert/strict";
import type { EndpointAddress } from "../state/types.ts";
import { RingHashBalancer } from "./ring-hash.ts";
import { xxhash64 } from "./hash.ts";

function ep(n: number, weight = 1): EndpointAddress {
  const host = `10.0.0.${n}`;
  return { host, port: 8080, key: `${host}:8080`, healthy: true, healthStatus: "HEALTHY", weight, socketMatch: undefined, tls: undefined };
}

const SIZES = { minRingSize: 1024, maxRingSize: 8_388_608 };
const keys = Array.from({ length: 10_000 }, (_, i) => xxhash64(`user-${i}`));

function owners(b: RingHashBalancer): string[] {
  return keys.map((h) => b.pick(undefined, h)!.key);
}

function shares(picks: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of picks) m.set(k, (m.get(k) ?? 0) + 1 / picks.length);
  return m;
}

test("the same hash always reaches the same host, and many hashes spread over all hosts", () => {
  const b = new RingHashBalancer([ep(1), ep(2), ep(3), ep(4)], SIZES);
  const first = owners(b);
  assert.deepEqual(owners(b), first);
  // A new balancer for the same hosts (another snapshot, another proxy) agrees.
  assert.deepEqual(owners(new RingHashBalancer([ep(1), ep(2), ep(3), ep(4)], SIZES)), first);
  for (const [host, share] of shares(first)) assert.ok(share > 0.15 && share < 0.35, `${host}: ${share}`);
  assert.equal(shares(first).size, 4);
});

test("a host of average weight gets minimum_ring_size/4 points, whatever the number of hosts; maximum_ring_size caps the ring", () => {
  assert.equal(new RingHashBalancer([ep(1), ep(2), ep(3)], SIZES).size, 3 * 256);
  assert.equal(new RingHashBalancer([ep(1), ep(2), ep(3), ep(4), ep(5)], SIZES).size, 5 * 256);
  assert.equal(new RingHashBalancer([ep(1, 1), ep(2, 3)], { minRingSize: 16, maxRingSize: 100 }).size, 2 + 6, "points follow weight");
  assert.equal(new RingHashBalancer(Array.from({ length: 8 }, (_, i) => ep(i + 1)), { minRingSize: 1024, maxRingSize: 1000 }).size, 1000);
});

test("weights decide each host's share of keys", () => {
  const b = new RingHashBalancer([ep(1, 1), ep(2, 2), ep(3, 5)], SIZES);
  const s = shares(owners(b));
  assert.ok(Math.abs(s.get(ep(1).key)! - 1 / 8) < 0.04, JSON.stringify([...s]));
  assert.ok(Math.abs(s.get(ep(2).key)! - 2 / 8) < 0.05, JSON.stringify([...s]));
  assert.ok(Math.abs(s.get(ep(3).key)! - 5 / 8) < 0.06, JSON.stringify([...s]));
  // Explicit weights (locality-scaled) replace the endpoints' own; a zero weight gets nothing.
  const w = shares(owners(new RingHashBalancer([ep(1), ep(2), ep(3)], SIZES, [0.5, 0.5, 0])));
  assert.equal(w.get(ep(3).key), undefined);
});

test("when one of N hosts leaves only about 1/N of the keys move, and they come back with it", () => {
  const all = [ep(1), ep(2), ep(3), ep(4), ep(5)];
  const before = owners(new RingHashBalancer(all, SIZES));
  const after = owners(new RingHashBalancer(all.filter((e) => e.key !== ep(3).key), SIZES));
  let moved = 0;
  let movedFromOthers = 0;
  before.forEach((owner, i) => {
    if (owner === after[i]) return;
    moved++;
    if (owner !== ep(3).key) movedFromOthers++;
  });
  const onLeaver = before.filter((o) => o === ep(3).key).length;
  assert.equal(moved, onLeaver, "every key of the leaving host moves, and only those");
  assert.equal(movedFromOthers, 0, "the staying hosts keep all their keys");
  assert.ok(Math.abs(moved / keys.length - 1 / 5) < 0.05, `moved ${moved / keys.length}, about 1/N`);
  assert.deepEqual(owners(new RingHashBalancer(all, SIZES)), before, "the host's return restores the old mapping");
});

test("a retry that avoids the hashed host walks on to another; no hash picks at random; no hosts, no pick", () => {
  const b = new RingHashBalancer([ep(1), ep(2), ep(3)], SIZES);
  const h = xxhash64("session-7");
  const first = b.pick(undefined, h)!;
  const second = b.pick([first], h)!;
  assert.notEqual(second.key, first.key);
  assert.equal(b.pick([first], h)!.key, second.key, "the walk is deterministic");
  assert.equal(b.pick([ep(1), ep(2), ep(3)], h)!.key, first.key, "all avoided: the hashed host anyway");
  const random = new Set(Array.from({ length: 200 }, () => b.pick(undefined)!.key));
  assert.equal(random.size, 3);
  assert.equal(new RingHashBalancer([], SIZES).pick(undefined, h), undefined);
});
