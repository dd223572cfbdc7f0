// The demo mesh end to end, through real processes: productpage -> details + reviews -> ratings,
// every hop through two sidecars. Then, while a client keeps sending requests, the reviews
// VirtualService is edited from "all v1" to a 50/50 v2/v3 split: routing must change within a
// second or so, and not one request may fail.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { getJson, viaProxy, waitFor } from "../support/http.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/bookinfo", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mizzen-bookinfo-"));
cpSync(EXAMPLE, dir, { recursive: true });
let mesh: TestMesh | undefined;
after(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// The same file the demo's tour asks users to copy in.
const SPLIT = readFileSync(fileURLToPath(new URL("../../examples/reviews-routes/reviews-v2-v3-50-50.yaml", import.meta.url)), "utf8");

test("bookinfo routes through sidecars, and a live VirtualService edit loses no request", async () => {
  mesh = await startMesh(dir, 101, 6);
  const proxy = mesh.podIp(1); // productpage-v1's sidecar
  const reviews = async () => {
    const r = await viaProxy(proxy, 15001, "http://reviews:9080/reviews/0");
    if (r.status !== 200) throw new Error(`reviews answered ${r.status}: ${r.body.slice(0, 200)}`);
    return (JSON.parse(r.body) as { version: string }).version;
  };
  await waitFor("productpage showing reviews", async () => (await viaProxy(proxy, 15001, "http://productpage:9080/productpage")).body.includes("Reviews served by"));
  const page = await viaProxy(proxy, 15001, "http://productpage:9080/productpage");
  assert.equal(page.status, 200);
  assert.match(page.body, /reviews-v1|v1/);
  for (let i = 0; i < 10; i++) assert.equal(await reviews(), "v1");

  // Steady load from 4 concurrent clients across the change.
  const seen: { at: number; version: string }[] = [];
  const failures: string[] = [];
  let running = true;
  const clients = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        seen.push({ at: Date.now(), version: await reviews() });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  const changedAt = Date.now();
  writeFileSync(join(dir, "virtual-service-reviews.yaml"), SPLIT);
  const firstNew = await waitFor("v2/v3 answering", async () => seen.find((s) => s.at > changedAt && s.version !== "v1"), 10_000, 20);
  const switchMs = firstNew.at - changedAt;
  // Every proxy ACKs the new routes: the time from the file write to the last ACK.
  const lastAck = await waitFor("every proxy ACKing the change", async () => {
    const sync = await getJson<{ types: { typeUrl: string; state: string; acked?: { time: string } }[] }[]>(`${mesh!.debugUrl}/debug/syncz`);
    const routes = sync.map((p) => p.types.find((t) => t.typeUrl.endsWith("RouteConfiguration")));
    if (routes.length < 6 || routes.some((r) => r?.state !== "SYNCED" || !r.acked || Date.parse(r.acked.time) < changedAt)) return false;
    return Math.max(...routes.map((r) => Date.parse(r!.acked!.time)));
  });
  await new Promise((r) => setTimeout(r, 3000));
  running = false;
  await Promise.all(clients);
  console.log(`# live change: first v2/v3 answer ${switchMs} ms after the file write; every proxy ACKed ${lastAck - changedAt} ms after it; ${seen.length} requests, ${failures.length} failed`);

  assert.deepEqual(failures, [], "no request may fail during the change");
  const settled = seen.filter((s) => s.at > firstNew.at + 1500);
  assert.ok(settled.length > 40, `enough requests after the change (${settled.length})`);
  const count = (v: string) => settled.filter((s) => s.version === v).length;
  assert.equal(count("v1"), 0, "v1 gets nothing once the split is in force");
  const share = count("v2") / settled.length;
  assert.ok(share > 0.3 && share < 0.7, `v2 share ${share.toFixed(2)} is about half`);
});
