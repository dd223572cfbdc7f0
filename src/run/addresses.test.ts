import { test } from "node:test";
import assert from "node:assert/strict";
import { planPods, plannedListeners } from "./addresses.ts";
import { parseWorkloads } from "./workloads-file.ts";

const specs = parseWorkloads(`workloads:
  - name: productpage-v1
    port: 9080
    command: [x]
  - name: reviews
    replicas: 3
    port: 9080
    command: [x]
  - name: client
    command: [x]
`);

test("pods are numbered in file order across replicas: pod IP 127.S.1.n, app 127.S.2.n", () => {
  const pods = planPods(specs, 10);
  assert.deepEqual(
    pods.map((p) => [p.podName, p.replica, p.podIp, p.appAddress]),
    [
      ["productpage-v1", 0, "127.10.1.1", "127.10.2.1"],
      ["reviews-0", 0, "127.10.1.2", "127.10.2.2"],
      ["reviews-1", 1, "127.10.1.3", "127.10.2.3"],
      ["reviews-2", 2, "127.10.1.4", "127.10.2.4"],
      ["client", 0, "127.10.1.5", "127.10.2.5"],
    ],
  );
  assert.equal(planPods(specs, 42)[4]!.podIp, "127.42.1.5");
});

test("every listener the mesh needs, sidecar ports and app ports", () => {
  const l = plannedListeners(planPods(specs, 10)).map((x) => `${x.host}:${x.port}`);
  assert.deepEqual(l.slice(0, 4), ["127.10.1.1:15000", "127.10.1.1:15001", "127.10.1.1:9080", "127.10.2.1:9080"]);
  assert.ok(l.includes("127.10.1.5:15001") && !l.includes("127.10.2.5:9080"), "a pod without ports has only the sidecar's");
});

test("bad subnet and too many pods are refused", () => {
  assert.throws(() => planPods(specs, 0), /subnet 0 must be a whole number 1\.\.254/);
  assert.throws(() => planPods(specs, 255), /subnet 255/);
  const many = parseWorkloads(`workloads:\n${Array.from({ length: 6 }, (_, i) => `  - name: w${i}\n    replicas: 50\n    command: [x]\n`).join("")}`);
  assert.throws(() => planPods(many, 10), /asks for 300 pods; a local mesh holds at most 254/);
});
