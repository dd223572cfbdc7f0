// MeshState's health bookkeeping: a proxy that reports health starts unhealthy, reports move
// its endpoints in and out of use, and only real changes ask for a push.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MeshState } from "./mesh-state.ts";
import { kubeService, proxy } from "../registry/fixtures.ts";

const HOST = "web.default.svc.cluster.local:8080";

function state(): MeshState {
  const s = new MeshState({ rootNamespace: "istio-system", domainSuffix: "cluster.local", accessLog: false });
  s.setObjects([kubeService("web", 8080)]);
  return s;
}

const healthOf = (s: MeshState) => s.registry().endpoints.get(HOST)!.map((e) => e.healthy);

test("a health-reporting proxy is unhealthy until its first healthy report, then follows its reports", () => {
  const s = state();
  const web = { ...proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] }), healthReporting: true };
  assert.equal(s.proxyConnected("c1", web), true);
  assert.deepEqual(healthOf(s), [false]);
  assert.match(s.registry().workloads.get(web.id)!.healthMessage ?? "", /no health report/);

  assert.equal(s.proxyHealth("c1", true), true, "unhealthy -> healthy is a change");
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("c1", true), false, "the same report again is not");

  assert.equal(s.proxyHealth("c1", false, "127.10.2.1:8080: connection refused"), true);
  assert.deepEqual(healthOf(s), [false]);
  assert.equal(s.registry().workloads.get(web.id)!.healthMessage, "127.10.2.1:8080: connection refused");

  // A reconnect starts over: unhealthy until the new stream's first report.
  assert.equal(s.proxyDisconnected("c1"), true);
  assert.deepEqual(s.registry().endpoints.get(HOST), []);
  s.proxyConnected("c2", web);
  assert.deepEqual(healthOf(s), [false]);
  s.proxyHealth("c2", true);
  assert.deepEqual(healthOf(s), [true]);
});

test("a proxy without health reporting is healthy at once and its reports change nothing", () => {
  const s = state();
  const web = proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] });
  s.proxyConnected("c1", web);
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("c1", false, "ignored"), false);
  assert.deepEqual(healthOf(s), [true]);
  assert.equal(s.proxyHealth("unknown-connection", false), false);
});

test("when a reconnect overlaps the old stream, the newest connection's health counts", () => {
  const s = state();
  const web = { ...proxy("web", "127.10.1.1", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }] }), healthReporting: true };
  s.proxyConnected("old", web);
  s.proxyHealth("old", true);
  s.proxyConnected("new", web);
  assert.deepEqual(healthOf(s), [false], "the new stream has not reported yet");
  s.proxyHealth("new", true);
  s.proxyDisconnected("old");
  assert.deepEqual(healthOf(s), [true]);
});
