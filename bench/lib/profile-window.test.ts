import { test } from "node:test";
import assert from "node:assert/strict";
import { monotonicUs, profileWindow, type CpuProfileJson } from "./profile-window.ts";
import { summariseProfile } from "./cpuprofile.ts";

const frame = (functionName: string) => ({ functionName, url: functionName === "(idle)" ? "" : "file:///repo/src/x.ts", lineNumber: 0 });
// Samples at t = 1000 + 100 * k µs: "startup" for k < 5, "work" for 5 <= k < 10, "(idle)" after.
const PROFILE: CpuProfileJson = {
  nodes: [{ id: 1, callFrame: frame("(root)"), children: [2, 3, 4] }, { id: 2, callFrame: frame("startup") }, { id: 3, callFrame: frame("work") }, { id: 4, callFrame: frame("(idle)") }],
  startTime: 1000,
  endTime: 2500,
  samples: Array.from({ length: 15 }, (_, k) => (k < 5 ? 2 : k < 10 ? 3 : 4)),
  timeDeltas: Array.from({ length: 15 }, (_, k) => (k === 0 ? 0 : 100)),
};

test("only samples inside the window stay, the first one starting it", () => {
  const w = profileWindow(PROFILE, 1500, 1950);
  assert.deepEqual(w.samples, [3, 3, 3, 3, 3]);
  assert.equal(w.startTime, 1500);
  assert.deepEqual(w.timeDeltas, [0, 100, 100, 100, 100]);
  assert.equal(w.endTime, 1950);
});

test("the summary of a window counts the work in it and nothing from before", () => {
  const s = summariseProfile(profileWindow(PROFILE, 1500, 2000), "/repo");
  const byName = Object.fromEntries(s.functions.map((f) => [f.name, f.selfMs]));
  assert.equal(byName.startup, undefined);
  assert.ok(Math.abs(byName.work! - 0.5) < 1e-9, `work ${byName.work}`);
});

test("an empty or inverted window is refused; the clock is the one V8 stamps profiles with", () => {
  assert.throws(() => profileWindow(PROFILE, 2000, 2000), /empty profile window/);
  const a = monotonicUs();
  const b = Number(process.hrtime.bigint() / 1000n);
  assert.ok(b >= a && b - a < 1_000_000);
});
