// The Bookinfo services themselves, without any mesh: each runs as its own process on a
// loopback address with HTTP_PROXY pointing at a small test proxy that maps service names to
// those addresses, as a sidecar would. Proves the proxy-environment path needs no mesh code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, startTestProxy, type TestProxy } from "./test-http-proxy.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/bookinfo/", import.meta.url));
// A loopback /24 of our own, so parallel test files do not meet.
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
const SERVICES = [
  { name: "ratings", file: "ratings.ts", env: {} },
  { name: "details", file: "details.ts", env: {} },
  { name: "reviews", file: "reviews.ts", env: { SERVICE_VERSION: "v2", POD_NAME: "reviews-v2" } },
  { name: "productpage", file: "productpage.ts", env: {} },
];

let proxy: TestProxy;
const children: ChildProcess[] = [];
const output: string[] = [];
let productpage = "";

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.text() };
}

before(async () => {
  proxy = await startTestProxy(`${NET}.100`);
  for (const [i, svc] of SERVICES.entries()) {
    const host = `${NET}.${i + 1}`;
    const port = await freePort(host);
    proxy.routes.set(`${svc.name}:9080`, { host, port });
    const child = spawn(process.execPath, [svc.file], {
      cwd: EXAMPLE,
      env: { ...process.env, ...svc.env, HOST: host, PORT: String(port), HTTP_PROXY: proxy.url, NODE_USE_ENV_PROXY: "1", NO_PROXY: "localhost,127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (c: Buffer) => output.push(`${svc.name}: ${c}`));
    child.stderr!.on("data", (c: Buffer) => output.push(`${svc.name}: ${c}`));
    children.push(child);
    const base = `http://${host}:${port}`;
    if (svc.name === "productpage") productpage = base;
    const end = Date.now() + 15_000;
    for (;;) {
      const ok = await get(`${base}/health`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`${svc.name} did not start:\n${output.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(async () => {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
  await proxy?.close();
});

test("productpage renders details and reviews from v2 with black stars, every call via the proxy", async () => {
  proxy.seen.length = 0;
  const page = await get(`${productpage}/productpage`, { "x-request-id": "req-1" });
  assert.equal(page.status, 200);
  assert.match(page.body, /Reviews served by: <b>reviews-v2<\/b> \(version <b>v2<\/b>\)/);
  assert.match(page.body, /style="color:black">★★★★★<\/span>/);
  assert.match(page.body, /style="color:black">★★★★☆<\/span>/);
  assert.match(page.body, /<dt>author<\/dt><dd>William Shakespeare<\/dd>/);
  assert.match(page.body, /Not signed in/);
  const seen = proxy.seen.map((s) => `${s.method} ${s.target}`).sort();
  assert.deepEqual(seen, ["GET http://details:9080/details/0", "GET http://ratings:9080/ratings/0", "GET http://reviews:9080/reviews/0"]);
  assert.ok(proxy.seen.every((s) => s.headers["x-request-id"] === "req-1"), "x-request-id is passed on at every hop");
  assert.ok(proxy.seen.every((s) => s.headers["end-user"] === undefined), "no end-user when nobody signed in");
});

test("?u=jason, a cookie or an end-user header passes end-user: jason downstream, through reviews to ratings", async () => {
  for (const [path, headers] of [
    ["/productpage?u=jason", {}],
    ["/productpage", { cookie: "end-user=jason" }],
    ["/", { "end-user": "jason", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }],
  ] as const) {
    proxy.seen.length = 0;
    const page = await get(`${productpage}${path}`, headers);
    assert.equal(page.status, 200);
    assert.match(page.body, /Signed in as <b>jason<\/b>/, path);
    for (const target of ["http://reviews:9080/reviews/0", "http://ratings:9080/ratings/0", "http://details:9080/details/0"]) {
      const s = proxy.seen.find((x) => x.target === target);
      assert.equal(s?.headers["end-user"], "jason", `${target} for ${path}`);
      if ("traceparent" in headers) assert.equal(s?.headers.traceparent, headers.traceparent);
    }
  }
});

test("the JSON API names the reviews version and pod", async () => {
  const r = await get(`${productpage}/api/v1/products/0`);
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as { details: { author: string }; reviews: { version: string; podname: string; reviews: { rating: { stars: number; color: string } }[] } };
  assert.equal(body.details.author, "William Shakespeare");
  assert.equal(body.reviews.version, "v2");
  assert.equal(body.reviews.podname, "reviews-v2");
  assert.deepEqual(body.reviews.reviews.map((x) => x.rating), [{ stars: 5, color: "black" }, { stars: 4, color: "black" }]);
});

test("a failing call shows its status and text on the page instead of crashing", async () => {
  const ratings = proxy.routes.get("ratings:9080")!;
  const details = proxy.routes.get("details:9080")!;
  proxy.routes.delete("ratings:9080");
  proxy.routes.delete("details:9080");
  try {
    const page = await get(`${productpage}/productpage`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Error fetching product details: HTTP 502: test proxy: no route to details:9080/);
    assert.match(page.body, /Ratings service is currently unavailable \(502: test proxy: no route to ratings:9080\)/);
    assert.match(page.body, /Reviews served by: <b>reviews-v2<\/b>/);
  } finally {
    proxy.routes.set("ratings:9080", ratings);
    proxy.routes.set("details:9080", details);
  }
  assert.equal((await get(`${productpage}/productpage`)).status, 200, "still serving");
});
