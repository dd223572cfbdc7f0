import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { cla, edsCluster, feed, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost } from "../test-kit.ts";

test("a request in flight finishes on the route it started with while a new snapshot takes over", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let arrived!: () => void;
  const slowArrived = new Promise<void>((r) => { arrived = r; });
  const oldUp = await startUpstream("old", (req, res) => {
    arrived();
    void gate.then(() => res.end("old"));
  });
  const newUp = await startUpstream("new", (_req, res) => res.end("new"));
  const base = {
    clusters: [edsCluster("old"), edsCluster("new")],
    endpoints: [cla("old", [{ port: oldUp.port }]), cla("new", [{ port: newUp.port }])],
    listeners: [hcmListener("l", { rds: "r" })],
  };
  const plane = await startPlane({ ...base, routes: [routeConfig("r", [vhost("v", ["*"], [toCluster("old")])])] });
  const port = plane.port("l");
  try {
    const inflight = viaProxy(port, "http://svc/slow");
    await slowArrived;
    assert.equal(await feed(plane, { routes: [routeConfig("r", [vhost("v", ["*"], [toCluster("new")])])] }, "2"), null);
    assert.equal((await viaProxy(port, "http://svc/")).body, "new");
    release();
    assert.equal((await inflight).body, "old");
  } finally {
    await plane.close();
    await Promise.all([oldUp.close(), newUp.close()]);
  }
});

test("a NACKed update leaves the previous snapshot serving", async () => {
  const up = await startUpstream("up");
  const plane = await startPlane({
    clusters: [edsCluster("c")],
    endpoints: [cla("c", [{ port: up.port }])],
    listeners: [hcmListener("l", { rds: "r" })],
    routes: [routeConfig("r", [vhost("v", ["*"], [{ match: { safe_regex: { regex: "/ok/.*" } }, route: { cluster: "c" } }])])],
  });
  try {
    const reason = await feed(plane, { routes: [routeConfig("r", [vhost("v", ["*"], [{ match: { safe_regex: { regex: "(unclosed" } }, route: { cluster: "c" } }])])] }, "2");
    assert.match(reason!, /invalid regex/);
    const r = await viaProxy(plane.port("l"), "http://svc/ok/1");
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).id, "up");
  } finally {
    await plane.close();
    await up.close();
  }
});

test("removed listeners stop accepting; unchanged ones keep their socket", async () => {
  const up = await startUpstream("up");
  const inline = routeConfig("i", [vhost("v", ["*"], [toCluster("c")])]);
  const plane = await startPlane({
    clusters: [edsCluster("c")],
    endpoints: [cla("c", [{ port: up.port }])],
    listeners: [hcmListener("keep", { routeConfig: inline }), hcmListener("drop", { routeConfig: inline })],
  });
  try {
    const keepPort = plane.port("keep");
    const dropPort = plane.port("drop");
    assert.equal((await viaProxy(dropPort, "http://svc/")).status, 200);
    await feed(plane, { listeners: [hcmListener("keep", { routeConfig: inline })] }, "2");
    assert.equal(plane.port("keep"), keepPort);
    assert.equal(plane.listeners.port("drop"), undefined);
    assert.equal((await viaProxy(keepPort, "http://svc/")).status, 200);
    await assert.rejects(viaProxy(dropPort, "http://svc/"), /ECONNREFUSED/);
  } finally {
    await plane.close();
    await up.close();
  }
});

test("a listener that cannot bind is reported, not thrown", async () => {
  const blocker = http.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const taken = (blocker.address() as { port: number }).port;
  const plane = await startPlane({ listeners: [hcmListener("busy", { port: taken, routeConfig: routeConfig("i", [vhost("v", ["*"], [toCluster("c")])]) })] });
  try {
    const st = plane.listeners.status().find((s) => s.name === "busy")!;
    assert.equal(st.state, "failed");
    assert.match(st.error!, /EADDRINUSE/);
  } finally {
    await plane.close();
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

test("a removed listener lets its in-flight request finish", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let arrived!: () => void;
  const inside = new Promise<void>((r) => { arrived = r; });
  const up = await startUpstream("up", (_req, res) => {
    arrived();
    void gate.then(() => res.end("done"));
  });
  const inline = routeConfig("i", [vhost("v", ["*"], [toCluster("c")])]);
  const plane = await startPlane({
    clusters: [edsCluster("c")],
    endpoints: [cla("c", [{ port: up.port }])],
    listeners: [hcmListener("drop", { routeConfig: inline })],
  });
  try {
    const inflight = viaProxy(plane.port("drop"), "http://svc/");
    await inside;
    await feed(plane, { listeners: [] }, "2");
    assert.equal(plane.listeners.status().length, 0);
    release();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, "done");
  } finally {
    await plane.close();
    await up.close();
  }
});

test("generate_request_id=false leaves requests without an id", async () => {
  const up = await startUpstream("up");
  const l = hcmListener("l", { routeConfig: routeConfig("i", [vhost("v", ["*"], [toCluster("c")])]) });
  l.filter_chains![0].filters[0].typed_config.generate_request_id = { value: false };
  const plane = await startPlane({ clusters: [edsCluster("c")], endpoints: [cla("c", [{ port: up.port }])], listeners: [l] });
  try {
    const r = await viaProxy(plane.port("l"), "http://svc/");
    assert.equal(JSON.parse(r.body).headers["x-request-id"], undefined);
  } finally {
    await plane.close();
    await up.close();
  }
});
