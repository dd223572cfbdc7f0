import { test } from "node:test";
import assert from "node:assert/strict";
import { exportedTo, hostMatches, hostSpecificity, resolveHost } from "./hosts.ts";
import { parseDurationMs, toDuration } from "./duration.ts";

test("host resolution and wildcard matching, Istio's way", () => {
  assert.equal(resolveHost("reviews", "default", "cluster.local"), "reviews.default.svc.cluster.local");
  assert.equal(resolveHost("reviews.other", "default", "cluster.local"), "reviews.other"); // dotted names are literal
  assert.equal(resolveHost("*", "default", "cluster.local"), "*");
  assert.ok(hostMatches("*.example.com", "a.b.example.com"));
  assert.ok(!hostMatches("*.example.com", "example.com"));
  assert.ok(hostMatches("*", "anything"));
  assert.ok(hostSpecificity("a.example.com") > hostSpecificity("*.example.com"));
  assert.ok(hostSpecificity("*.example.com") > hostSpecificity("*"));
});

test("exportTo", () => {
  assert.ok(exportedTo(undefined, "a", "b"));
  assert.ok(exportedTo(["*"], "a", "b"));
  assert.ok(exportedTo(["."], "a", "a"));
  assert.ok(!exportedTo(["."], "a", "b"));
  assert.ok(exportedTo([".", "b"], "a", "b"));
  assert.ok(!exportedTo(["~"], "a", "a"));
});

test("Istio durations", () => {
  assert.equal(parseDurationMs("10s"), 10_000);
  assert.equal(parseDurationMs("1.5s"), 1500);
  assert.equal(parseDurationMs("250ms"), 250);
  assert.equal(parseDurationMs("1h2m"), 3_720_000);
  assert.equal(parseDurationMs("ten"), undefined);
  assert.equal(parseDurationMs("10"), undefined);
  assert.deepEqual(toDuration("0.25s"), { seconds: 0, nanos: 250_000_000 });
  assert.deepEqual(toDuration("0s"), { seconds: 0 });
});
