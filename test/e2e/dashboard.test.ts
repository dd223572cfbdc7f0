// The dashboard in a real browser (Debian's chromium driven by playwright-core) against the
// Bookinfo mesh: real control plane, sidecars and apps, with traffic flowing into productpage
// from outside the mesh. The page must draw the Bookinfo edges with live rates and the mTLS
// lock, show the VirtualService that applies to reviews, list every sidecar as SYNCED, and
// follow a live traffic shift (reviews all-v1 -> 50/50 v2/v3) without a reload.
// Screenshots go to test-artifacts/dashboard/.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { buildUi } from "../../scripts/build-ui.ts";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { viaProxy, waitFor } from "../support/http.ts";

const CHROMIUM = "/usr/bin/chromium";
const SUBNET = 156;
const SIDECARS = 6;
const EXAMPLE = fileURLToPath(new URL("../../examples/bookinfo", import.meta.url));
const SPLIT = readFileSync(fileURLToPath(new URL("../../examples/reviews-routes/reviews-v2-v3-50-50.yaml", import.meta.url)), "utf8");
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/dashboard/", import.meta.url));

const svc = (name: string) => `service:${name}.default.svc.cluster.local`;
const wl = (name: string) => `workload:default/${name}`;

const dir = mkdtempSync(join(tmpdir(), "mizzen-dashboard-"));
let mesh: TestMesh | undefined;
let browser: Browser | undefined;
let running = false;
let clients: Promise<void>[] = [];
after(async () => {
  running = false;
  await Promise.all(clients);
  await browser?.close();
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Requests to productpage from outside the mesh (straight to its sidecar's inbound port). */
function startTraffic(productpageIp: string, concurrency: number, failures: string[]): void {
  running = true;
  clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await viaProxy(productpageIp, 9080, "http://productpage:9080/productpage");
        if (r.status !== 200) failures.push(`productpage answered ${r.status}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  });
}

interface EdgeOnPage {
  rps: number;
  mtls: boolean;
  health: string;
  labelRps: number;
}

/** The edge source -> target as the page draws it, or undefined when it is not drawn. */
async function edgeOnPage(page: Page, source: string, target: string): Promise<EdgeOnPage | undefined> {
  const edge = page.locator(`[data-testid="graph-edge"][data-source="${source}"][data-target="${target}"]`);
  if ((await edge.count()) === 0) return undefined;
  const label = edge.locator('[data-testid="edge-label"]');
  return {
    rps: Number(await edge.getAttribute("data-rps")),
    mtls: (await edge.getAttribute("data-mtls")) === "true" && (await edge.locator('[data-testid="mtls-lock"]').count()) === 1,
    health: (await edge.getAttribute("data-health")) ?? "",
    labelRps: Number(await label.getAttribute("data-rps")),
  };
}

/** Where every node is drawn, and which edges exist: what must not move between polls. */
async function drawing(page: Page): Promise<{ generatedAt: string; edges: string; nodes: string }> {
  const generatedAt = (await page.locator('[data-testid="live-status"]').getAttribute("data-generated-at")) ?? "";
  const edges = await page.locator('[data-testid="graph-edge"]').evaluateAll((els) => els.map((el) => el.getAttribute("data-edge-id")).sort().join("\n"));
  const nodes = await page.locator('[data-testid="graph-node"]').evaluateAll((els) => els.map((el) => `${el.getAttribute("data-node-id")} ${el.getAttribute("transform")}`).sort().join("\n"));
  return { generatedAt, edges, nodes };
}

interface Box { x: number; y: number; width: number; height: number }

/** Pairs of drawn boxes (nodes and edge labels) that overlap on screen. */
async function overlaps(page: Page): Promise<string[]> {
  const boxes: { what: string; box: Box }[] = [];
  for (const el of await page.locator('[data-testid="graph-node"]').all()) {
    const box = await el.locator(".node-shape").boundingBox();
    if (box) boxes.push({ what: `node ${await el.getAttribute("data-node-id")}`, box });
  }
  for (const el of await page.locator('[data-testid="graph-edge"]').all()) {
    const box = await el.locator(".edge-label-box").boundingBox();
    if (box) boxes.push({ what: `label of ${await el.getAttribute("data-edge-id")}`, box });
  }
  const hit = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) if (hit(boxes[i]!.box, boxes[j]!.box)) out.push(`${boxes[i]!.what} / ${boxes[j]!.what}`);
  }
  return out;
}

/** Waits until every listed edge is drawn with traffic (and the lock where asked). */
async function waitForBusyEdges(page: Page, what: string, edges: [string, string][], mtls: boolean): Promise<void> {
  await waitFor(
    what,
    async () => {
      for (const [s, t] of edges) {
        const e = await edgeOnPage(page, s, t);
        if (!e) throw new Error(`${s} -> ${t} not drawn`);
        if (!(e.rps > 0 && e.labelRps > 0)) throw new Error(`${s} -> ${t} has rps ${e.rps}`);
        if (mtls && !e.mtls) throw new Error(`${s} -> ${t} has no mTLS lock`);
      }
      return true;
    },
    45_000,
    500,
  );
}

test("the dashboard draws the live Bookinfo graph in Chromium and follows a traffic shift", async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (Debian package "chromium"): the dashboard browser test needs it`);
    return;
  }
  const built = await buildUi();
  assert.ok(built.jsBytes > 0);
  mkdirSync(ARTIFACTS, { recursive: true });
  cpSync(EXAMPLE, dir, { recursive: true });
  mesh = await startMesh(dir, SUBNET, SIDECARS);
  const failures: string[] = [];
  startTraffic(mesh.podIp(1), 3, failures);

  browser = await chromium.launch({
    headless: true,
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));

  // The page loads from the control plane's debug server and draws the graph.
  const res = await page.goto(`${mesh.debugUrl}/dashboard/`);
  assert.equal(res?.status(), 200);
  assert.equal(await page.title(), "Mizzen mesh dashboard");
  await page.locator('[data-testid="service-graph"]').waitFor({ timeout: 20_000 });
  for (const id of [svc("productpage"), svc("reviews"), svc("details"), svc("ratings"), wl("productpage-v1"), wl("reviews-v1"), wl("reviews-v2"), wl("reviews-v3"), wl("ratings-v1")]) {
    assert.equal(await page.locator(`[data-testid="graph-node"][data-node-id="${id}"]`).count(), 1, `node ${id} is drawn`);
  }

  // Bookinfo's calls, with traffic and the lock (sidecar to sidecar is mTLS).
  await waitForBusyEdges(page, "the Bookinfo edges with traffic and mTLS", [
    [wl("productpage-v1"), svc("reviews")],
    [wl("productpage-v1"), svc("details")],
    [svc("reviews"), wl("reviews-v1")],
    [svc("details"), wl("details-v1")],
  ], true);
  await waitForBusyEdges(page, "traffic from outside the mesh into productpage", [["unknown", svc("productpage")]], false);
  assert.equal((await page.locator('[data-testid="live-status"]').getAttribute("data-state")), "live");
  assert.equal(await page.locator('[data-testid="banner-unreachable"]').count(), 0, "no unreachable banner");
  assert.deepEqual(await overlaps(page), [], "no edge label overlaps a node or another label");
  await page.screenshot({ path: join(ARTIFACTS, "1-before-shift.png"), fullPage: true });

  // Polls update the numbers but keep the layout: with the same edges, no node moves.
  const first = await drawing(page);
  const nextPoll = (after: string) => waitFor("the next poll", async () => {
    const d = await drawing(page);
    return d.generatedAt !== "" && d.generatedAt !== after ? d : false;
  }, 10_000, 200);
  const later = await nextPoll((await nextPoll(first.generatedAt)).generatedAt);
  assert.equal(later.edges, first.edges, "steady traffic: the same edges poll after poll");
  assert.equal(later.nodes, first.nodes, "nodes stay where they were between polls");

  // Every sidecar is listed with CDS, LDS, EDS and RDS SYNCED.
  const rows = page.locator('[data-testid="proxy-row"]');
  await waitFor("six proxies listed", async () => (await rows.count()) === SIDECARS, 10_000, 200);
  await waitFor("every proxy SYNCED", async () => {
    const states = await page.locator('[data-testid="proxy-row"] [data-testid="sync-state"]').evaluateAll((els) => els.map((el) => `${el.getAttribute("data-type")}=${el.getAttribute("data-state")}`));
    if (states.length !== SIDECARS * 4) throw new Error(`${states.length} sync cells`);
    const bad = states.filter((s) => !s.endsWith("=SYNCED"));
    if (bad.length) throw new Error(`not synced: ${bad.join(", ")}`);
    return true;
  }, 15_000, 500);

  // Selecting the reviews service shows the VirtualService (and DestinationRule) that apply.
  await page.locator(`[data-testid="graph-node"][data-node-id="${svc("reviews")}"]`).click();
  const panel = page.locator('[data-testid="details-panel"]');
  await panel.waitFor();
  const vs = panel.locator('[data-testid="config-item"][data-kind="VirtualService"][data-name="reviews"]');
  await vs.waitFor({ timeout: 10_000 });
  assert.equal(await vs.getAttribute("data-state"), "accepted");
  assert.match((await vs.textContent()) ?? "", /virtual-service-reviews\.yaml:\d+/);
  assert.equal(await panel.locator('[data-testid="config-item"][data-kind="DestinationRule"][data-name="reviews"]').count(), 1);
  assert.ok((await panel.locator('[data-testid="endpoint-row"]').count()) >= 3, "reviews' three endpoints are listed");
  await page.screenshot({ path: join(ARTIFACTS, "2-reviews-details.png"), fullPage: true });

  // Shift reviews to 50/50 v2/v3 while traffic flows: the page follows without a reload.
  writeFileSync(join(dir, "virtual-service-reviews.yaml"), SPLIT);
  await waitForBusyEdges(page, "reviews v2/v3 and ratings edges after the shift", [
    [svc("reviews"), wl("reviews-v2")],
    [svc("reviews"), wl("reviews-v3")],
    [wl("reviews-v2"), svc("ratings")],
    [wl("reviews-v3"), svc("ratings")],
    [svc("ratings"), wl("ratings-v1")],
  ], true);
  // The v1 edge drops out of the rate window: idle, or gone from the graph.
  await waitFor("reviews -> reviews-v1 going idle", async () => {
    const e = await edgeOnPage(page, svc("reviews"), wl("reviews-v1"));
    return !e || e.rps === 0 || e.health === "idle";
  }, 45_000, 500);
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });
  assert.deepEqual(await overlaps(page), [], "no edge label overlaps a node or another label");
  await page.screenshot({ path: join(ARTIFACTS, "3-after-shift.png"), fullPage: true });

  running = false;
  await Promise.all(clients);
  assert.deepEqual(pageErrors, [], "no script errors on the page");
  assert.deepEqual(failures.slice(0, 5), [], "productpage answered every request");
});
