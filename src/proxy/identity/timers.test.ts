import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, runAt } from "./timers.ts";

test("backoff doubles from the initial delay up to the cap, with half of it random", () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 30_000, () => 1)), [500, 1000, 2000, 4000, 30_000]);
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 30_000, () => 0)), [250, 500, 1000, 2000, 15_000]);
  assert.equal(backoffDelay(5000, 500, 30_000, () => 1), 30_000, "huge attempt counts do not overflow");
});

test("runAt fires for a time already past, and a cancelled timer never fires", async () => {
  let now = 1_000_000;
  const fired: string[] = [];
  runAt(now - 5, () => now, () => fired.push("past"));
  const cancelled = runAt(now + 10, () => now, () => fired.push("cancelled"));
  cancelled.cancel();
  await new Promise((r) => setTimeout(r, 40));
  now += 1000;
  assert.deepEqual(fired, ["past"]);
});
