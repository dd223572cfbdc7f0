import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sidecarNodeFlags, strippedModulesFlags, strippedName, SIDECAR_V8_FLAGS } from "./stripped-modules.ts";

// The child says which copy of app.ts ran, and whether Node loaded its TypeScript stripper.
const APP = `const where: string = "source";
console.log(JSON.stringify({ where, stripper: process.moduleLoadList.some((m: string) => m.includes("amaro")) }));
`;

function run(flags: string[], file: string): { where: string; stripper: boolean } {
  const out = execFileSync(process.execPath, [...flags, file], { encoding: "utf8", timeout: 20_000 });
  return JSON.parse(out.trim()) as { where: string; stripper: boolean };
}

test("the hook serves a module from the cache by the hash of its source, without Node's stripper", () => {
  const cache = mkdtempSync(join(tmpdir(), "mizzen-stripped-"));
  const appDir = mkdtempSync(join(tmpdir(), "mizzen-stripped-app-"));
  try {
    const flags = strippedModulesFlags(cache);
    assert.equal(flags.length, 1);
    assert.match(flags[0]!, /^--import=file:.*\.mjs$/);
    assert.ok(readdirSync(cache).length > 20, "every src/ module is stored");
    const app = join(appDir, "app.ts");
    writeFileSync(app, APP);
    // A cache entry for exactly these bytes wins (its text differs so we can tell).
    writeFileSync(join(cache, strippedName(APP)), APP.replace('const where: string = "source"', 'const where = "cache"').replace("(m: string)", "(m)"));
    assert.deepEqual(run(flags, app), { where: "cache", stripper: false });
    // Edited source, no entry for the new bytes: Node strips it as usual. A stale cache is never used.
    writeFileSync(app, `${APP}// edited\n`);
    assert.deepEqual(run(flags, app), { where: "source", stripper: true });
  } finally {
    rmSync(cache, { recursive: true, force: true });
    rmSync(appDir, { recursive: true, force: true });
  }
});

test("an unusable cache directory means no hook flag, not a failure", () => {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-stripped-file-"));
  try {
    const notADir = join(dir, "file");
    writeFileSync(notADir, "");
    assert.deepEqual(strippedModulesFlags(join(notADir, "cache")), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sidecar flags end with the measured V8 flags", () => {
  const flags = sidecarNodeFlags();
  assert.deepEqual(flags.slice(-SIDECAR_V8_FLAGS.length), [...SIDECAR_V8_FLAGS]);
});
