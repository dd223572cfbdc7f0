// Run with `npx node --test bench/` (not part of npm test, like the rest of bench/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { shortUrl, summariseProfile, topCallers, topOursTotal, topSelf } from "./cpuprofile.ts";
import { cpuSeconds, ioCounts, memoryKb } from "./proc-stats.ts";

const ROOT = "/repo";
const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });

// (root) -> handle (ours) -> write (node:net) -> writev (native)
//        -> (idle)
//        -> boot (node:internal/main), only before the first marked sample
const profile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 5, 6] },
    { id: 2, callFrame: frame("handle", "file:///repo/src/proxy/http/h.ts", 9), children: [3] },
    { id: 3, callFrame: frame("write", "node:net", 99), children: [4] },
    { id: 4, callFrame: frame("writev") },
    { id: 5, callFrame: frame("(idle)") },
    { id: 6, callFrame: frame("boot", "node:internal/main", 0) },
  ],
  startTime: 0,
  endTime: 70_000,
  // sample i lasts until sample i+1; the last one until endTime
  samples: [6, 2, 4, 4, 5, 3, 6],
  timeDeltas: [0, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000],
};

test("self and total time per function, idle apart, the start-up before the first marked sample cut off", () => {
  const s = summariseProfile(profile, ROOT, "/src/proxy/");
  // Window: samples 1..5 (10 ms each), sample 0 (boot) and 6 (boot, after the last marked) left out.
  assert.equal(s.sampledMs, 50);
  assert.equal(s.idleMs, 10);
  assert.equal(s.busyMs, 40);
  const byName = new Map(s.functions.map((f) => [f.name, f]));
  assert.equal(byName.get("writev")!.selfMs, 20);
  assert.equal(byName.get("handle")!.selfMs, 10);
  assert.equal(byName.get("handle")!.totalMs, 40, "handle is on the stack of every busy sample: its own, both writev and the write");
  assert.equal(byName.get("write")!.totalMs, 30);
  assert.equal(byName.get("boot"), undefined);
  assert.equal(byName.get("handle")!.location, "src/proxy/http/h.ts:10");
  assert.deepEqual(s.selfByOrigin, { ours: 10, nodeModules: 0, runtime: 30 });
  assert.deepEqual(topSelf(s, 2).map((f) => f.name), ["writev", "handle"], "idle is never a top entry; ties keep profile order");
  assert.deepEqual(topOursTotal(s, 5).map((f) => f.key), ["handle src/proxy/http/h.ts:10"]);
  assert.deepEqual(topCallers(s, "writev", 3), [{ caller: "write node:net:100", ms: 20 }]);
});

test("without a marker every sample counts", () => {
  const s = summariseProfile(profile, ROOT);
  assert.equal(s.sampledMs, 70);
  assert.equal(s.functions.find((f) => f.name === "boot")!.selfMs, 20);
});

test("urls are shortened to the repository or node_modules", () => {
  assert.equal(shortUrl("file:///repo/src/a.ts", ROOT), "src/a.ts");
  assert.equal(shortUrl("file:///repo/node_modules/pino/lib/x.js", ROOT), "node_modules/pino/lib/x.js");
  assert.equal(shortUrl("node:internal/streams/readable", ROOT), "node:internal/streams/readable");
});

test("proc stats of this process are plausible", () => {
  assert.ok(cpuSeconds(process.pid) > 0);
  const m = memoryKb(process.pid);
  assert.ok(m.rssKb > 1000 && m.hwmKb >= m.rssKb);
  const io = ioCounts(process.pid);
  assert.ok(io.readCalls > 0 && Number.isFinite(io.writeCalls));
});
