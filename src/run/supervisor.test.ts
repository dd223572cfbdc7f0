import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Supervisor } from "./supervisor.ts";

function capture(): { out: Writable; text(): string } {
  let buf = "";
  const out = new Writable({ write(chunk: Buffer, _e, done) { buf += chunk.toString(); done(); } });
  return { out, text: () => buf };
}

async function until<T>(what: string, check: () => T | null | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const node = (script: string) => ({ command: process.execPath, args: ["-e", script] });

test("output lines are prefixed with the padded label, partial last lines included", async () => {
  const c = capture();
  const sup = new Supervisor({ out: c.out, labelWidth: 8 });
  const child = sup.start({ label: "app", ...node(`process.stdout.write("one\\ntwo\\n"); console.error("oops"); process.stdout.write("tail")`), restart: false });
  await until("exit", () => child.exits === 1);
  await until("output", () => c.text().includes("not restarting"));
  const lines = c.text().split("\n");
  assert.ok(lines.includes("app      │ one") && lines.includes("app      │ two"), c.text());
  assert.ok(lines.includes("app      │ oops") && lines.includes("app      │ tail"), c.text());
  assert.ok(lines.includes("mizzen   │ app exited with code 0; not restarting"), c.text());
  assert.deepEqual([...child.lastLines()].sort(), ["one", "oops", "tail", "two"]);
});

test("stop() kills the whole process group, grandchildren too, even one that ignores SIGTERM", async () => {
  const c = capture();
  const sup = new Supervisor({ out: c.out, stopGraceMs: 500 });
  const child = sup.start({
    label: "parent",
    ...node(`
      const { spawn } = require("node:child_process");
      const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
      console.log("grandchild " + g.pid);
      setInterval(() => {}, 1000);`),
  });
  const line = await until("grandchild pid", () => /grandchild (\d+)/.exec(c.text()));
  const grandchild = Number(line[1]);
  const parent = child.pid!;
  assert.ok(alive(parent) && alive(grandchild));
  await child.stop();
  await until("both gone", () => !alive(parent) && !alive(grandchild), 5000);
  assert.equal(child.running, false);
  assert.doesNotMatch(c.text(), /restarting/, "a stopped child is not restarted");
});

test("a child that exits on its own is reported with code and last lines, and restarted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-sup-"));
  try {
    const marker = join(dir, "ran-once");
    const c = capture();
    const sup = new Supervisor({ out: c.out, initialBackoffMs: 50 });
    const child = sup.start({
      label: "flaky",
      ...node(`
        const fs = require("node:fs");
        if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ""); console.log("first run, failing"); process.exit(3); }
        console.log("second run " + process.pid);
        setInterval(() => {}, 1000);`),
    });
    const second = await until("the restart", () => /second run (\d+)/.exec(c.text()));
    assert.match(c.text(), /flaky exited with code 3; restarting in 0\.1s\. Last lines:\n {4}first run, failing/);
    assert.equal(child.restarts, 1);
    assert.equal(child.pid, Number(second[1]));
    assert.equal(child.running, true);
    await child.stop();
    assert.equal(alive(Number(second[1])), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a command that cannot start is reported, not thrown", async () => {
  const c = capture();
  const sup = new Supervisor({ out: c.out });
  const child = sup.start({ label: "ghost", command: "/nonexistent/binary", args: [], restart: false });
  await until("exit", () => child.exits === 1);
  assert.match(c.text(), /ghost │ cannot start \/nonexistent\/binary: spawn \/nonexistent\/binary ENOENT/);
  await child.stop();
});
