import { test } from "node:test";
import assert from "node:assert/strict";
import type { EndpointAddress } from "../state/types.ts";
import { LocalityBalancer, levelHealth, localityScaledWeights, PriorityBalancer, priorityLoads } from "./locality.ts";
import { createBalancer, DEFAULT_LB_CONFIG } from "./load-balancer.ts";
import { RoundRobinBalancer } from "./round-robin.ts";
import { xxhash64 } from "./hash.ts";

function ep(name: string, o: { priority?: number; locality?: string; localityWeight?: number; weight?: number } = {}): EndpointAddress {
  return { host: name, port: 80, key: `${name}:80`, healthy: true, healthStatus: "HEALTHY", weight: o.weight ?? 1, socketMatch: undefined, tls: undefined, ...o };
}

function count(pick: () => EndpointAddress | undefined, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const h = pick()?.host ?? "none";
    out[h] = (out[h] ?? 0) + 1;
  }
  return out;
}

const rr = (usable: readonly EndpointAddress[]) => new RoundRobinBalancer(usable);

test("a level's health is its usable share x 1.4, in whole percent, at most 100", () => {
  assert.deepEqual([levelHealth(5, 5), levelHealth(4, 5), levelHealth(3, 5), levelHealth(1, 2), levelHealth(0, 3), levelHealth(0, 0)], [100, 100, 84, 70, 0, 0]);
});

test("priority loads: the first level takes its health, the next the rest, scaled up when all are short", () => {
  assert.deepEqual(priorityLoads([100, 100]), [100, 0]);
  assert.deepEqual(priorityLoads([70, 100]), [70, 30]);
  assert.deepEqual(priorityLoads([0, 100]), [0, 100]);
  assert.deepEqual(priorityLoads([30, 0]), [100, 0], "alone, a weak level still takes everything");
  assert.deepEqual(priorityLoads([20, 30]), [40, 60]);
  assert.deepEqual(priorityLoads([33, 33, 33]), [34, 33, 33], "rounding leftovers go to the first usable level");
  assert.deepEqual(priorityLoads([0, 0]), [0, 0]);
});

test("priority levels: all traffic to priority 0 while it is healthy, spill-over as it loses hosts, all to priority 1 when none is left", () => {
  const all = [ep("a0"), ep("b0"), ep("c1", { priority: 1 }), ep("d1", { priority: 1 })];
  const healthy = new PriorityBalancer(all, all, rr);
  assert.deepEqual(healthy.loads, [100]);
  assert.deepEqual(Object.keys(count(() => healthy.pick(undefined), 100)).sort(), ["a0", "b0"]);

  const half = new PriorityBalancer(all.filter((e) => e.host !== "b0"), all, rr);
  assert.deepEqual(half.loads, [70, 30]);
  const c = count(() => half.pick(undefined), 4000);
  const p0 = (c.a0 ?? 0) / 4000;
  assert.ok(Math.abs(p0 - 0.7) < 0.05, JSON.stringify(c));

  const gone = new PriorityBalancer(all.filter((e) => e.priority === 1), all, rr);
  assert.deepEqual(Object.keys(count(() => gone.pick(undefined), 50)).sort(), ["c1", "d1"]);
  assert.equal(new PriorityBalancer([], all, rr).pick(undefined), undefined, "nothing usable: no host (no panic mode)");
});

test("with a hash the priority level is a function of it (hash mod 100)", () => {
  const all = [ep("a0"), ep("b0"), ep("c1", { priority: 1 })];
  const half = new PriorityBalancer([all[0], all[2]], all, (usable) => createBalancer("RING_HASH", usable, () => 0));
  for (let i = 0; i < 50; i++) {
    const h = xxhash64(`k${i}`);
    const want = Number(h % 100n) < 70 ? "a0" : "c1";
    assert.equal(half.pick(undefined, h)?.host, want);
  }
});

test("localities share a level by weight x availability; a locality without weight gets nothing", () => {
  const all = [ep("a1", { locality: "r/a/", localityWeight: 80 }), ep("a2", { locality: "r/a/", localityWeight: 80 }), ep("b1", { locality: "r/b/", localityWeight: 20 }), ep("c1", { locality: "r/c/" })];
  const lb = new LocalityBalancer(all, all, rr);
  const c = count(() => lb.pick(undefined), 5000);
  assert.equal(c.c1, undefined);
  assert.ok(Math.abs(((c.a1 ?? 0) + (c.a2 ?? 0)) / 5000 - 0.8) < 0.04, JSON.stringify(c));
  // One of a's two hosts gone: a is 70 % available, 80 x 0.7 = 56 against 20.
  const degraded = new LocalityBalancer(all.filter((e) => e.host !== "a2"), all, rr);
  const d = count(() => degraded.pick(undefined), 5000);
  assert.ok(Math.abs((d.a1 ?? 0) / 5000 - 56 / 76) < 0.04, JSON.stringify(d));
  assert.equal(new LocalityBalancer([all[3]], all, rr).usable, false, "only weightless localities: the caller falls back to the whole level");
});

test("createBalancer: locality weighting only with locality_weighted_lb_config; hash policies scale host weights instead", () => {
  const all = [ep("a1", { locality: "r/a/", localityWeight: 90 }), ep("b1", { locality: "r/b/", localityWeight: 10 }), ep("b2", { locality: "r/b/", localityWeight: 10 })];
  const plain = count(() => createBalancer("RANDOM", all, () => 0).pick(undefined), 3000);
  assert.ok((plain.b1 ?? 0) + (plain.b2 ?? 0) > 1500, `ignored without the config: ${JSON.stringify(plain)}`);
  const config = { ...DEFAULT_LB_CONFIG, localityWeighted: true, key: "lw" };
  const weighted = createBalancer("RANDOM", all, () => 0, { config });
  const w = count(() => weighted.pick(undefined), 3000);
  assert.ok(Math.abs((w.a1 ?? 0) / 3000 - 0.9) < 0.04, JSON.stringify(w));
  assert.deepEqual(localityScaledWeights(all), [0.9, 0.05, 0.05]);
  const ring = createBalancer("MAGLEV", all, () => 0, { config });
  const r = count(() => ring.pick(undefined, xxhash64(String(Math.random()))), 3000);
  assert.ok(Math.abs((r.a1 ?? 0) / 3000 - 0.9) < 0.04, JSON.stringify(r));
});
