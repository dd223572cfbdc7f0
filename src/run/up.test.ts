// The runner end to end with stand-in control plane and sidecar scripts (the real ones are
// tested elsewhere): start order, addresses, the app's environment, prefixed output, the
// summary, a clean stop, and the two start-up failures a user meets (port in use, sidecar down).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { UserError } from "../cli/user-error.ts";
import { portProblem } from "./probes.ts";
import { freePort } from "./test-http-proxy.ts";
import { up, type CommandFor } from "./up.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-up-"));
const subnet = 150 + Math.floor(Math.random() * 100);

const CONTROL = `
const http = require("node:http"), net = require("node:net");
const arg = (f) => process.argv[process.argv.indexOf(f) + 1];
console.log("control args " + process.argv.slice(2).join(" "));
const [dh, dp] = arg("--debug-address").split(":"), [xh, xp] = arg("--xds-address").split(":");
const debug = http.createServer((q, s) => s.end("ready")).listen(+dp, dh);
const xds = net.createServer().listen(+xp, xh);
process.on("SIGTERM", () => { debug.close(); xds.close(); process.exit(0); });
`;
const PROXY = `
const http = require("node:http"), net = require("node:net");
const arg = (f) => process.argv[process.argv.indexOf(f) + 1];
console.log("proxy args " + process.argv.slice(2).join(" "));
console.log("proxy token " + (/^mzt1\.[A-Za-z0-9_-]{43}$/.test(process.env.MIZZEN_BOOTSTRAP_TOKEN || "") ? "present" : "missing"));
if (arg("--name") === "broken") { console.error("boom: cannot reach the control plane"); process.exit(1); }
http.createServer((q, s) => s.end("ready")).listen(+arg("--admin-port"), arg("--ip"));
net.createServer().listen(15001, arg("--ip"));
`;
const APP = `
const http = require("node:http");
const pick = ["HOST", "PORT", "POD_IP", "POD_NAME", "POD_NAMESPACE", "SERVICE_ACCOUNT", "HTTP_PROXY", "http_proxy", "NO_PROXY", "NODE_USE_ENV_PROXY", "GREETING", "MIZZEN_BOOTSTRAP_TOKEN"];
console.log("env " + JSON.stringify(Object.fromEntries(pick.map((k) => [k, process.env[k]]))));
http.createServer((q, s) => s.end("hi")).listen(+process.env.PORT, process.env.HOST);
`;

const commandFor: CommandFor = (sub, args) => ({ command: process.execPath, args: [join(dir, `${sub}.cjs`), ...args] });

function capture(): { out: Writable; text(): string } {
  let buf = "";
  return { out: new Writable({ write(c: Buffer, _e, done) { buf += c.toString(); done(); } }), text: () => buf };
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

let xdsAddress = "";
let debugAddress = "";
before(async () => {
  writeFileSync(join(dir, "control.cjs"), CONTROL);
  writeFileSync(join(dir, "proxy.cjs"), PROXY);
  writeFileSync(join(dir, "app.cjs"), APP);
  xdsAddress = `127.0.0.1:${await freePort("127.0.0.1")}`;
  debugAddress = `127.0.0.1:${await freePort("127.0.0.1")}`;
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeWorkloads(extra = ""): void {
  writeFileSync(
    join(dir, "workloads.yaml"),
    `workloads:
  - name: web
    serviceAccount: web-sa
    labels: { app: web, version: v1 }
    ports: [ { name: http, port: 8080 } ]
    command: ["node", "app.cjs"]
    env: { GREETING: hello }
  - name: worker
    namespace: jobs
    replicas: 2
    command: "echo worker $POD_NAME on $HOST; exec sleep 1000"
${extra}`,
  );
}

test("up starts control plane, sidecars and apps with their addresses, and stop() ends them all", async () => {
  writeWorkloads();
  const c = capture();
  const mesh = await up({ dir, subnet, xdsAddress, debugAddress, out: c.out, commandFor, handleSignals: false, stopGraceMs: 1000 });
  try {
    assert.deepEqual(mesh.workloads.map((w) => [w.name, w.podIp, w.appAddress, w.adminUrl]), [
      ["web", `127.${subnet}.1.1`, `127.${subnet}.2.1`, `http://127.${subnet}.1.1:15000`],
      ["worker-0", `127.${subnet}.1.2`, `127.${subnet}.2.2`, `http://127.${subnet}.1.2:15000`],
      ["worker-1", `127.${subnet}.1.3`, `127.${subnet}.2.3`, `http://127.${subnet}.1.3:15000`],
    ]);
    const envLine = await waitForLine(c, /^web\s+│ env (.*)$/m);
    assert.deepEqual(JSON.parse(envLine[1]!), {
      HOST: `127.${subnet}.2.1`, PORT: "8080", POD_IP: `127.${subnet}.1.1`, POD_NAME: "web", POD_NAMESPACE: "default",
      SERVICE_ACCOUNT: "web-sa", HTTP_PROXY: `http://127.${subnet}.1.1:15001`, http_proxy: `http://127.${subnet}.1.1:15001`,
      NO_PROXY: "127.0.0.1,localhost", NODE_USE_ENV_PROXY: "1", GREETING: "hello",
    });
    await waitForLine(c, new RegExp(`^worker-1\\s+│ worker worker-1 on 127\\.${subnet}\\.2\\.3$`, "m"));
    const text = c.text();
    assert.match(text, new RegExp(`^web sidecar\\s+│ proxy args --xds ${xdsAddress} --ip 127\\.${subnet}\\.1\\.1 --name web --namespace default --labels app=web,version=v1 --service-account web-sa --ports http:8080 --app-address 127\\.${subnet}\\.2\\.1 --admin-port 15000 --parent-pid ${process.pid} --ca-root ${dir}/\\.mizzen/ca/root-cert\\.pem$`, "m"));
    assert.match(text, new RegExp(`^worker-0 sidecar\\s+│ proxy args .* --namespace jobs --labels  --service-account default --ports  `, "m"));
    assert.match(text, new RegExp(`^control\\s+│ control args --config ${dir} --xds-address ${xdsAddress} --debug-address ${debugAddress} --parent-pid ${process.pid} --data-dir ${dir}/\\.mizzen --access-log$`, "m"));
    // Each sidecar got its own bootstrap token for its identity; the store holds only hashes.
    const store = JSON.parse(readFileSync(`${dir}/.mizzen/tokens.json`, "utf8")) as { tokens: { spiffeId: string; sha256: string }[] };
    assert.deepEqual(store.tokens.map((t) => t.spiffeId).sort(), ["spiffe://cluster.local/ns/default/sa/web-sa", "spiffe://cluster.local/ns/jobs/sa/default", "spiffe://cluster.local/ns/jobs/sa/default"]);
    assert.equal(statSync(`${dir}/.mizzen/tokens.json`).mode & 0o777, 0o600);
    assert.match(text, /Mizzen mesh is up: 3 pods/);
    assert.match(text, /^web sidecar\s+│ proxy token present$/m, "the sidecar has its token");
    // The stand-in control plane has no registry, so the summary shows no service URL to try.
    assert.doesNotMatch(text, /curl -x/);
    assert.match(text, /Ctrl-C stops everything/);
    // Control plane started first: its line precedes every sidecar's.
    assert.ok(text.indexOf("control args") < text.indexOf("proxy args"));
  } finally {
    const pids = [mesh.control.pid, ...mesh.workloads.flatMap((w) => [w.sidecar.pid, w.app.pid])];
    await mesh.stop();
    await mesh.done;
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    for (const [host, port] of [xdsAddress.split(":"), debugAddress.split(":"), [`127.${subnet}.1.1`, "15000"], [`127.${subnet}.2.1`, "8080"]]) {
      assert.equal(await portProblem(host!, Number(port)), undefined, `${host}:${port} is free again`);
    }
  }
});

test("a port in use is one clear line naming the flag, and nothing is started", async () => {
  writeWorkloads();
  const [host, port] = xdsAddress.split(":");
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(Number(port), host, r));
  const c = capture();
  try {
    await assert.rejects(up({ dir, subnet, xdsAddress, debugAddress, out: c.out, commandFor, handleSignals: false }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.message, `port ${port} on 127.0.0.1 is in use (another mizzen running?): stop it or pass --xds-address`);
      return true;
    });
    assert.equal(c.text(), "", "nothing was started");
  } finally {
    blocker.close();
  }
});

test("a sidecar that never gets ready fails up() with its last output, and stops what was started", async () => {
  writeWorkloads(`  - name: broken\n    port: 9000\n    command: ["node", "app.cjs"]\n`);
  const c = capture();
  await assert.rejects(up({ dir, subnet, xdsAddress, debugAddress, out: c.out, commandFor, handleSignals: false, stopGraceMs: 1000 }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^the sidecar of broken exited with code 1 before it was ready \(http:\/\/127\.\d+\.1\.4:15000\/ready\)\. Its last output:\n/);
    assert.match(err.message, /boom: cannot reach the control plane/);
    return true;
  });
  assert.equal(await portProblem("127.0.0.1", Number(debugAddress.split(":")[1])), undefined, "control plane stopped");
  assert.equal(await portProblem(`127.${subnet}.2.1`, 8080), undefined, "apps stopped");
});

async function waitForLine(c: { text(): string }, re: RegExp): Promise<RegExpExecArray> {
  const end = Date.now() + 10_000;
  for (;;) {
    const m = re.exec(c.text());
    if (m) return m;
    if (Date.now() > end) throw new Error(`no line ${re} in:\n${c.text()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("SIGINT to a runner process stops everything and exits 0", async () => {
  writeWorkloads();
  const driver = join(dir, "driver.ts");
  writeFileSync(
    driver,
    `import { up } from ${JSON.stringify(new URL("./up.ts", import.meta.url).href)};
import { join } from "node:path";
const dir = ${JSON.stringify(dir)};
const mesh = await up({ dir, subnet: ${subnet}, xdsAddress: ${JSON.stringify(xdsAddress)}, debugAddress: ${JSON.stringify(debugAddress)}, stopGraceMs: 1000,
  commandFor: (sub, args) => ({ command: process.execPath, args: [join(dir, sub + ".cjs"), ...args] }) });
console.log("PIDS " + JSON.stringify([mesh.control.pid, ...mesh.workloads.flatMap((w) => [w.sidecar.pid, w.app.pid])]));
await mesh.done;
console.log("runner done");
`,
  );
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [driver], { stdio: ["ignore", "pipe", "pipe"] });
  const c = { buf: "", text() { return this.buf; } };
  child.stdout.on("data", (d: Buffer) => (c.buf += d.toString()));
  child.stderr.on("data", (d: Buffer) => (c.buf += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const pids = JSON.parse((await waitForLine(c, /^PIDS (.*)$/m))[1]!) as number[];
    assert.equal(pids.length, 7);
    child.kill("SIGINT");
    assert.equal(await exited, 0, c.text());
    assert.match(c.text(), /SIGINT: stopping applications, then sidecars, then the control plane/);
    assert.match(c.text(), /runner done/);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    assert.equal(await portProblem("127.0.0.1", Number(xdsAddress.split(":")[1])), undefined);
  } finally {
    clearTimeout(killer);
  }
});

test("a Node app exits by itself when the runner that started it is gone (parent watch)", async () => {
  const { spawn } = await import("node:child_process");
  const parent = spawn("sleep", ["60"], { stdio: "ignore" });
  const app = spawn(process.execPath, ["--import", new URL("./parent-watch.ts", import.meta.url).href, "-e", "setInterval(() => {}, 1000)"], {
    env: { ...process.env, MIZZEN_PARENT_PID: String(parent.pid) },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((r) => app.on("exit", (code) => r(code)));
  const killer = setTimeout(() => app.kill("SIGKILL"), 15_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(app.exitCode, null, "runs while the parent lives");
  parent.kill("SIGKILL");
  assert.equal(await exited, 0);
  clearTimeout(killer);
});
