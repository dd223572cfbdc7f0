// The inspection commands against a live in-process mesh (control plane + two sidecars), and
// the one-line error when the control plane is not there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { startTestMesh, type TestMesh } from "./inspect-test-mesh.ts";
import { proxyStatusCommand, proxyStatusRows } from "./proxy-status.ts";
import { proxyConfigCommand } from "./proxy-config.ts";
import { describeCommand, describeService } from "./describe.ts";
import { UserError } from "./user-error.ts";
import { viaProxy } from "../../test/support/http.ts";

let mesh: TestMesh;

function collect(): { lines: string[]; log(l: string): void } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(...l.split("\n")) };
}

/** Table rows split on the column gap. */
function rowsOf(lines: string[]): string[][] {
  return lines.map((l) => l.trim().split(/ {3,}/));
}

before(async () => {
  mesh = await startTestMesh(107);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await proxyStatusRows(mesh.control);
    if (rows.length === 2 && rows.every((r) => Object.values(r.status).every((s) => s === "SYNCED") && r.health === "HEALTHY")) break;
    if (Date.now() > deadline) throw new Error(`proxies never all SYNCED: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});
after(async () => {
  await mesh?.close();
});

test("proxy-status: one SYNCED row per proxy, with version and health", async () => {
  const out = collect();
  assert.equal(await proxyStatusCommand({ control: mesh.control }, out), 0);
  const rows = rowsOf(out.lines);
  assert.deepEqual(rows[0], ["NAME", "CDS", "LDS", "EDS", "RDS", "VERSION", "HEALTH"]);
  assert.deepEqual(rows.slice(1), [
    ["productpage-v1.default", "SYNCED", "SYNCED", "SYNCED", "SYNCED", "mizzen-0.1.0", "HEALTHY"],
    ["reviews-v1.default", "SYNCED", "SYNCED", "SYNCED", "SYNCED", "mizzen-0.1.0", "HEALTHY"],
  ]);
  const json = collect();
  await proxyStatusCommand({ control: mesh.control, output: "json" }, json);
  const parsed = JSON.parse(json.lines.join("\n"));
  assert.equal(parsed[1].proxyId, "sidecar~127.107.1.2~reviews-v1.default~default.svc.cluster.local");
  assert.deepEqual(parsed[1].nacks, []);
});

test("proxy-config routes: the reviews route names its VirtualService, from the control plane and from the sidecar", async () => {
  for (const fromProxy of [false, true]) {
    const out = collect();
    await proxyConfigCommand("routes", "productpage-v1", { control: mesh.control, fromProxy }, out);
    const rows = rowsOf(out.lines);
    assert.deepEqual(rows[0], ["ROUTE NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"]);
    const reviews = rows.find((r) => r[1] === "reviews.default.svc.cluster.local:9080");
    assert.deepEqual(reviews, ["http_proxy", "reviews.default.svc.cluster.local:9080", "reviews +3 more", "/*", "reviews.default"], `fromProxy=${fromProxy}`);
    assert.equal(rows.find((r) => r[1] === "ratings.default.svc.cluster.local:9080")?.[4], "-");
  }
});

test("proxy-config listeners, clusters, endpoints", async () => {
  const o = { control: mesh.control };
  const l = collect();
  await proxyConfigCommand("listeners", "productpage-v1.default", o, l);
  assert.deepEqual(rowsOf(l.lines).slice(1), [
    ["http_proxy", "127.107.1.1:15001", "OUTBOUND", "Route: http_proxy"],
    ["inbound|9080", "127.107.1.1:9080", "INBOUND", "Inline Route: inbound|9080 [mTLS, plaintext]"],
  ]);
  const c = collect();
  await proxyConfigCommand("clusters", "sidecar~127.107.1.1~productpage-v1.default~default.svc.cluster.local", o, c);
  const clusters = rowsOf(c.lines);
  assert.deepEqual(clusters[0], ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]);
  assert.ok(clusters.some((r) => r.join("|") === "reviews.default.svc.cluster.local|9080|v2|outbound|EDS|reviews.default"), c.lines.join("\n"));
  assert.ok(clusters.some((r) => r.join("|") === "ratings.default.svc.cluster.local|9080|-|outbound|EDS|-"));
  const e = collect();
  await proxyConfigCommand("endpoints", "127.107.1.1", o, e);
  assert.ok(rowsOf(e.lines).some((r) => r.join("|") === "127.107.1.2:9080|HEALTHY|outbound|9080|v1|reviews.default.svc.cluster.local"), e.lines.join("\n"));
});

test("proxy-config: an unknown proxy or type is a UserError listing what exists", async () => {
  await assert.rejects(proxyConfigCommand("routes", "nope", { control: mesh.control }, collect()), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /no connected proxy "nope"; connected: productpage-v1\.default, reviews-v1\.default/);
    return true;
  });
  await assert.rejects(proxyConfigCommand("certificates", "reviews-v1", { control: mesh.control }, collect()), /not a config type; use one of listeners, routes, clusters, endpoints, secrets/);
});

test("describe reviews: ports, the VirtualService, DR subsets, endpoints with health", async () => {
  const d = await describeService("reviews", { control: mesh.control });
  assert.equal(d.service.hostname, "reviews.default.svc.cluster.local");
  assert.deepEqual(d.virtualServices.map((v) => [v.name, v.state, v.subsetsUsed]), [["reviews.default", "accepted", ["v1"]]]);
  assert.deepEqual(d.destinationRules[0].subsets, [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }]);
  assert.deepEqual(d.endpoints, [{ port: 9080, address: "127.107.1.2:9080", healthy: true, workload: "reviews-v1.default", subsets: ["v1"] }]);
  assert.deepEqual(d.hints, []);
  assert.match(d.mtls.client, /^ISTIO_MUTUAL \(auto mTLS/);
  assert.deepEqual(d.mtls.server, [{ workload: "reviews-v1.default", port: 9080, mode: "PERMISSIVE" }]);
  assert.deepEqual(d.recentFailures, []);

  const out = collect();
  await describeCommand("reviews.default", { control: mesh.control }, out);
  const text = out.lines.join("\n");
  assert.match(text, /subsets: v1 \(version=v1\), v2 \(version=v2\)/);
  assert.match(text, /127\.107\.1\.2:9080 {3}HEALTHY {3}reviews-v1\.default {3}v1/);
  assert.doesNotMatch(text, /What the flags mean/);
});

test("describe ratings: no endpoints gives the UH hint pointing at docs/errors.md", async () => {
  const out = collect();
  await describeCommand("ratings.default.svc.cluster.local", { control: mesh.control }, out);
  const text = out.lines.join("\n");
  assert.match(text, /Endpoints: none/);
  assert.match(text, /UH \(503 "no healthy upstream"\): ratings has no endpoints/);
  assert.match(text, /docs\/errors\.md/);
  assert.match(text, /Recent failed requests: none seen by the sidecars/);
  await assert.rejects(describeService("ratings", { control: mesh.control, namespace: "other" }), /no service "ratings" in namespace other; known: .*ratings\.default\.svc\.cluster\.local/);
});

test("describe shows a recent failed request to the service and what its flag means", async () => {
  // ratings has no endpoints: productpage's sidecar answers 503 UH.
  const res = await viaProxy(mesh.pods["productpage-v1"], 15001, "http://ratings:9080/ratings/7");
  assert.equal(res.status, 503);
  const d = await describeService("ratings", { control: mesh.control });
  assert.equal(d.recentFailures.length, 1);
  const f = d.recentFailures[0];
  assert.equal(f.proxy, "productpage-v1.default");
  assert.equal(f.direction, "outbound");
  assert.equal(f.status, 503);
  assert.equal(f.flags, "UH");
  assert.equal(f.path, "/ratings/7");
  assert.match(f.meaning[0], /^UH: the cluster has no healthy endpoint/);
  assert.deepEqual(d.unreadSidecars, []);
  const out = collect();
  await describeCommand("ratings", { control: mesh.control }, out);
  const text = out.lines.join("\n");
  assert.match(text, /Recent failed requests \(newest first\):\n {2}\S+ productpage-v1\.default outbound GET ratings:9080\/ratings\/7 -> 503 UH no_healthy_upstream/);
  assert.match(text, / {6}UH: the cluster has no healthy endpoint/);
  // A request to reviews fails elsewhere, and is not listed for ratings.
  const other = await describeService("reviews", { control: mesh.control });
  assert.deepEqual(other.recentFailures, []);
});

test("mizzen proxy-status with no control plane: one line with the fix, exit 1", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const cli = fileURLToPath(new URL("./main.ts", import.meta.url));
  const child = spawn(process.execPath, [cli, "proxy-status", "--control", `127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c));
  child.stderr.on("data", (c: Buffer) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  assert.equal(code, 1);
  assert.equal(stdout, "");
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], new RegExp(`^mizzen: the control plane is not reachable at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start it with .*--control HOST:PORT`));
});
