import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash } from "node:crypto";
import { cla, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";

let ups: Upstream[] = [];
let sink: Upstream;
let plane: DataPlane & { port(l: string): number };
let port: number;
const BIG = 20 * 1024 * 1024;

before(async () => {
  ups = await Promise.all(["r1", "r2", "r3"].map((id) => startUpstream(id)));
  // Streams 20 MB down for GET, and hashes what it receives for POST.
  sink = await startUpstream("sink", (req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < BIG) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
      return;
    }
    const h = createHash("sha256");
    let n = 0;
    req.on("data", (c: Buffer) => { h.update(c); n += c.length; });
    req.on("end", () => res.end(JSON.stringify({ bytes: n, sha: h.digest("hex") })));
  });
  plane = await startPlane({
    clusters: [edsCluster("rr"), edsCluster("w1"), edsCluster("w2"), edsCluster("sink")],
    endpoints: [cla("rr", ups.map((u) => ({ port: u.port }))), cla("w1", [{ port: ups[0].port }]), cla("w2", [{ port: ups[1].port }]), cla("sink", [{ port: sink.port }])],
    listeners: [hcmListener("out", { rds: "out" }), hcmListener("in", { inbound: true, routeConfig: routeConfig("inbound", [vhost("in", ["*"], [toCluster("rr")])]) })],
    routes: [routeConfig("out", [
      vhost("rr", ["rr"], [toCluster("rr")]),
      vhost("split", ["split"], [{ match: { prefix: "/" }, route: { weighted_clusters: { clusters: [{ name: "w1", weight: { value: 50 } }, { name: "w2", weight: { value: 50 } }] } } }]),
      vhost("sink", ["sink"], [toCluster("sink")]),
    ])],
  });
  port = plane.port("out");
});

after(async () => {
  await plane.close();
  await Promise.all([...ups, sink].map((u) => u.close()));
});

test("round robin spreads requests evenly across endpoints", async () => {
  const counts: Record<string, number> = {};
  for (let i = 0; i < 30; i++) {
    const r = await viaProxy(port, "http://rr/");
    const id = JSON.parse(r.body).id as string;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  assert.deepEqual(counts, { r1: 10, r2: 10, r3: 10 });
});

test("weighted clusters split 50/50 within a wide tolerance", async () => {
  const counts: Record<string, number> = { r1: 0, r2: 0 };
  for (let i = 0; i < 400; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => viaProxy(port, "http://split/")));
    for (const r of batch) counts[JSON.parse(r.body).id as string]++;
  }
  assert.equal(counts.r1 + counts.r2, 400);
  assert.ok(counts.r1 > 140 && counts.r2 > 140, JSON.stringify(counts));
});

test("upstream connections are kept alive and reused", async () => {
  const solo = await startUpstream("solo");
  const ka = await startPlane({
    clusters: [edsCluster("solo")],
    endpoints: [cla("solo", [{ port: solo.port }])],
    listeners: [hcmListener("ka", { routeConfig: routeConfig("ka", [vhost("all", ["*"], [toCluster("solo")])]) })],
  });
  try {
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) ports.add(JSON.parse((await viaProxy(ka.port("ka"), "http://solo/")).body).remotePort);
    assert.equal(ports.size, 1, "one upstream connection served all sequential requests");
  } finally {
    await ka.close();
    await solo.close();
  }
});

test("inbound listeners append the peer to x-forwarded-for", async () => {
  const r = await viaProxy(plane.port("in"), "http://anything/", { headers: { "x-forwarded-for": "10.0.0.9" } });
  assert.equal(JSON.parse(r.body).headers["x-forwarded-for"], "10.0.0.9, 127.0.0.1");
});

test("a 20 MB response streams through", async () => {
  const got = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "http://sink/big", headers: { host: "sink" }, agent: false }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => { n += c.length; });
      res.on("end", () => resolve(n));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(got, BIG);
});

test("a 20 MB chunked request body streams to the upstream intact", async () => {
  const h = createHash("sha256");
  const reply = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "http://sink/upload", headers: { host: "sink" }, agent: false }, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => { s += c; });
      res.on("end", () => resolve(s));
    });
    req.on("error", reject);
    let sent = 0;
    const pump = () => {
      while (sent < BIG) {
        const chunk = Buffer.alloc(64 * 1024, sent % 251);
        h.update(chunk);
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
  assert.deepEqual(JSON.parse(reply), { bytes: BIG, sha: h.digest("hex") });
});

test("response bytes reach the client before the upstream has finished (no whole-body buffering)", async () => {
  let clientGotFirst!: () => void;
  const firstSeen = new Promise<void>((r) => { clientGotFirst = r; });
  const slow = await startUpstream("slow", (_req, res) => {
    res.writeHead(200);
    res.write("first;");
    void firstSeen.then(() => res.end("second"));
  });
  const p = await startPlane({
    clusters: [edsCluster("slow")],
    endpoints: [cla("slow", [{ port: slow.port }])],
    listeners: [hcmListener("s", { routeConfig: routeConfig("s", [vhost("all", ["*"], [toCluster("slow")])]) })],
  });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: p.port("s"), path: "http://slow/", headers: { host: "slow" }, agent: false }, (res) => {
        let s = "";
        res.on("data", (c: Buffer) => {
          s += c;
          if (s.includes("first;")) clientGotFirst();
        });
        res.on("end", () => resolve(s));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(body, "first;second");
  } finally {
    await p.close();
    await slow.close();
  }
});

test("request bytes reach the upstream before the client has finished sending", async () => {
  let upstreamGotFirst!: () => void;
  const firstSeen = new Promise<void>((r) => { upstreamGotFirst = r; });
  const rcv = await startUpstream("rcv", (req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => { n += c.length; upstreamGotFirst(); });
    req.on("end", () => res.end(String(n)));
  });
  const p = await startPlane({
    clusters: [edsCluster("rcv")],
    endpoints: [cla("rcv", [{ port: rcv.port }])],
    listeners: [hcmListener("s", { routeConfig: routeConfig("s", [vhost("all", ["*"], [toCluster("rcv")])]) })],
  });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: p.port("s"), method: "POST", path: "http://rcv/", headers: { host: "rcv", "content-length": 10 }, agent: false }, (res) => {
        let s = "";
        res.on("data", (c: Buffer) => { s += c; });
        res.on("end", () => resolve(s));
      });
      req.on("error", reject);
      req.write("hello");
      void firstSeen.then(() => req.end("world"));
    });
    assert.equal(body, "10");
  } finally {
    await p.close();
    await rcv.close();
  }
});
