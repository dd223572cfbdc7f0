// `mizzen dashboard` against a real control plane: the URL, the not-built warning, opening
// with xdg-open (a stand-in script on PATH), and the one-line error when nothing answers.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { startControl, type ControlPlane } from "../control/main.ts";
import { dashboardCommand, findOnPath } from "./dashboard.ts";
import { UserError } from "./user-error.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-dashboard-cli-"));
const uiDir = join(dir, "dist");
const bin = join(dir, "bin");
let cp: ControlPlane | undefined;
let control = "";

before(async () => {
  mkdirSync(join(dir, "config"));
  mkdirSync(uiDir);
  mkdirSync(bin);
  writeFileSync(join(uiDir, "index.html"), "<!doctype html>");
  cp = await startControl({ configDir: join(dir, "config"), xds: { host: "127.0.0.1", port: 0 }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, dashboard: { uiDir } });
  control = `127.0.0.1:${cp.debugPort}`;
});

after(async () => {
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

function collect(): { lines: string[]; log(l: string): void } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(l) };
}

test("prints the dashboard's URL and how many proxies are connected", async () => {
  const out = collect();
  assert.equal(await dashboardCommand({ control }, out), 0);
  assert.deepEqual(out.lines, [`Mizzen dashboard: http://${control}/dashboard/   (0 proxies connected)`]);
});

test("--browser runs xdg-open with the URL; without one on PATH it says so", async () => {
  const seen = join(dir, "opened.txt");
  writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\necho "$1" > ${seen}\n`);
  chmodSync(join(bin, "xdg-open"), 0o755);
  const env = { ...process.env, PATH: bin };
  assert.equal(findOnPath("xdg-open", bin), join(bin, "xdg-open"));
  assert.equal(await dashboardCommand({ control, browser: true }, collect(), env), 0);
  const deadline = Date.now() + 10_000;
  while (!existsSync(seen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readFileSync(seen, "utf8").trim(), `http://${control}/dashboard/`);

  const out = collect();
  assert.equal(await dashboardCommand({ control, browser: true }, out, { ...process.env, PATH: join(dir, "empty") }), 0);
  assert.match(out.lines[1], /xdg-open was not found on PATH/);
});

test("a page that is not built: the URL, the build command, exit 1", async () => {
  rmSync(join(uiDir, "index.html"));
  try {
    const out = collect();
    assert.equal(await dashboardCommand({ control }, out), 1);
    assert.match(out.lines[1], /the dashboard is not built: run `npm run build:ui`/);
  } finally {
    writeFileSync(join(uiDir, "index.html"), "<!doctype html>");
  }
});

test("no control plane: one line naming the address and the fix", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(dashboardCommand({ control: `127.0.0.1:${port}` }, collect()), (err: unknown) => err instanceof UserError && /control plane is not reachable at 127\.0\.0\.1:\d+ \(ECONNREFUSED\).*--control/.test((err as Error).message));
  await assert.rejects(dashboardCommand({ control: "nonsense" }, collect()), UserError);
});
