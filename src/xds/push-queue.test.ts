import { test } from "node:test";
import assert from "node:assert/strict";
import { PushQueue, affects, type PendingPush } from "./push-queue.ts";
import { testNode, sleep, waitFor } from "./ads-test-kit.ts";

test("a burst becomes one flush carrying every reason; one unscoped push widens it to all", async () => {
  const flushed: PendingPush[] = [];
  const q = new PushQueue({ debounceMs: 20, maxDelayMs: 1000, flush: (p) => flushed.push(p) });
  q.push("a", (n) => n.name === "a");
  q.push("b", (n) => n.name === "b");
  await waitFor("flush", () => flushed.length === 1);
  assert.deepEqual(flushed[0]!.reasons, ["a", "b"]);
  assert.equal(affects(flushed[0]!, testNode("a")), true);
  assert.equal(affects(flushed[0]!, testNode("b")), true);
  assert.equal(affects(flushed[0]!, testNode("c")), false);
  q.push("scoped", () => false);
  q.push("everything");
  await waitFor("second flush", () => flushed.length === 2);
  assert.equal(flushed[1]!.predicates, undefined);
  assert.equal(affects(flushed[1]!, testNode("c")), true);
  q.close();
});

test("a steady stream of pushes still flushes (max delay caps the debounce)", { timeout: 10_000 }, async () => {
  let flushes = 0;
  const q = new PushQueue({ debounceMs: 50, maxDelayMs: 100, flush: () => flushes++ });
  // Pushes every 10 ms never leave 50 ms of quiet; without the cap nothing would flush.
  for (let i = 0; i < 60 && flushes === 0; i++) {
    q.push(`tick ${i}`);
    await sleep(10);
  }
  assert.ok(flushes >= 1, "flushed while pushes kept coming");
  q.close();
});

test("a predicate that throws counts as affected; close drops pending work", async () => {
  let flushed = 0;
  const q = new PushQueue({ debounceMs: 10, maxDelayMs: 100, flush: () => flushed++ });
  assert.equal(affects({ reasons: [], predicates: [() => { throw new Error("x"); }] }, testNode("a")), true);
  q.push("dropped");
  q.close();
  await sleep(40);
  assert.equal(flushed, 0);
});
