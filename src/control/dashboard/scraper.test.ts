// The scraper against real sockets on 127.155.4.x: one healthy metrics page whose counter
// grows, and pages that are garbage, hang, fail with 500, or refuse the connection. The bad
// ones are reported per proxy; the good one still gets its rate.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { MetricsScraper, type ScrapeTarget } from "./scraper.ts";

const servers: (http.Server | net.Server)[] = [];
const sockets = new Set<net.Socket>();
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: http.Server | net.Server, host: string): Promise<number> {
  servers.push(server);
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("good, garbage, hanging, 500 and refusing sidecars: failures reported per proxy, the good one measured", async () => {
  let served = 0;
  const good = await listen(http.createServer((req, res) => {
    served += 10;
    assert.equal(req.url, "/stats/prometheus");
    res.end(`# TYPE istio_requests_total counter\nistio_requests_total{reporter="destination",destination_workload="good"} ${served}\nenvoy_other 1\n`);
  }), "127.155.4.1");
  const garbage = await listen(http.createServer((_req, res) => res.end("<html><body>not metrics</body></html>")), "127.155.4.2");
  const hanging = await listen(http.createServer(() => { /* never answers */ }), "127.155.4.3");
  const broken = await listen(http.createServer((_req, res) => { res.writeHead(500); res.end("boom"); }), "127.155.4.5");
  // A raw TCP server that answers bytes that are not HTTP at all.
  const notHttp = await listen(net.createServer((s) => s.end(Buffer.from([0, 1, 2, 3, 255, 254]))), "127.155.4.6");
  const refused = await listen(net.createServer(), "127.155.4.4");
  await new Promise((r) => servers.pop()!.close(r)); // closed again: nothing listens there now

  const targets: ScrapeTarget[] = [
    { proxy: "good", host: "127.155.4.1", port: good },
    { proxy: "garbage", host: "127.155.4.2", port: garbage },
    { proxy: "hanging", host: "127.155.4.3", port: hanging },
    { proxy: "refused", host: "127.155.4.4", port: refused },
    { proxy: "broken", host: "127.155.4.5", port: broken },
    { proxy: "not-http", host: "127.155.4.6", port: notHttp },
  ];
  const scraper = new MetricsScraper({ targets: () => targets, intervalMs: 100, timeoutMs: 2000, windowMs: 10_000 });
  try {
    assert.equal(scraper.active, false, "nothing runs before anyone looks");
    scraper.touch();
    await scraper.ready();
    const report = scraper.lastReport();
    assert.equal(report.proxies, 6);
    const why = new Map(report.failed.map((f) => [f.proxy, f.error]));
    assert.deepEqual([...why.keys()].sort(), ["broken", "garbage", "hanging", "not-http", "refused"]);
    assert.match(why.get("garbage")!, /not Prometheus text: line 1: expected a metric name/);
    assert.match(why.get("hanging")!, /no answer within 2000 ms/);
    assert.match(why.get("refused")!, /ECONNREFUSED/);
    assert.match(why.get("broken")!, /answered HTTP 500/);
    assert.match(why.get("not-http")!, /127\.155\.4\.6:\d+\/stats\/prometheus: /);

    await waitUntil("three rounds", () => scraper.rounds >= 3);
    const [c] = scraper.samples().counters;
    assert.equal(c.labels.destination_workload, "good");
    assert.ok(c.rate > 0, `rate ${c.rate}`);
    assert.equal(scraper.samples().counters.length, 1, "only istio_* families are kept");
  } finally {
    scraper.close();
  }
});

test("scraping stops when nobody has looked for idleMs, and starts again on the next look", async () => {
  let hits = 0;
  const port = await listen(http.createServer((_req, res) => { hits++; res.end("istio_requests_total 1\n"); }), "127.155.4.7");
  const scraper = new MetricsScraper({ targets: () => [{ proxy: "p", host: "127.155.4.7", port }], intervalMs: 20, idleMs: 200 });
  try {
    scraper.touch();
    await scraper.ready();
    assert.equal(scraper.active, true);
    await waitUntil("the scraper to go idle", () => !scraper.active);
    const after = hits;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hits, after, "no scrapes while idle");
    assert.equal(scraper.samples().counters.length, 0, "samples are dropped when idle");
    scraper.touch();
    await scraper.ready();
    assert.equal(scraper.active, true);
    assert.ok(hits > after);
  } finally {
    scraper.close();
  }
});

test("a target list that throws is logged and the round goes on with nothing", async () => {
  const scraper = new MetricsScraper({ targets: () => { throw new Error("no registry"); }, intervalMs: 50 });
  try {
    scraper.touch();
    await scraper.ready();
    assert.deepEqual(scraper.lastReport(), { proxies: 0, failed: [] });
  } finally {
    scraper.close();
  }
});
