import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHostPort, parseLabels, parsePorts, UserError } from "./user-error.ts";

test("host:port forms", () => {
  assert.deepEqual(parseHostPort("--x", "127.0.0.1:15010"), { host: "127.0.0.1", port: 15010 });
  assert.deepEqual(parseHostPort("--x", "15010"), { host: "127.0.0.1", port: 15010 });
  assert.deepEqual(parseHostPort("--x", "[::1]:80"), { host: "::1", port: 80 });
  assert.throws(() => parseHostPort("--x", "nope"), UserError);
  assert.throws(() => parseHostPort("--x", "1.2.3.4:70000"), /write it like --x/);
});

test("labels and ports", () => {
  assert.deepEqual(parseLabels("--labels", "app=reviews, version=v1"), { app: "reviews", version: "v1" });
  assert.throws(() => parseLabels("--labels", "app"), /key=value/);
  assert.deepEqual(parsePorts("--ports", "http:9080,7070"), [
    { name: "http", containerPort: 9080, protocol: "TCP" },
    { name: "", containerPort: 7070, protocol: "TCP" },
  ]);
  assert.throws(() => parsePorts("--ports", "http:0"), /NAME:PORT/);
});
