import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWorkloads, readWorkloadsFile, WorkloadsFileError } from "./workloads-file.ts";

function problems(text: string): string[] {
  try {
    parseWorkloads(text, "w.yaml");
  } catch (err) {
    assert.ok(err instanceof WorkloadsFileError, `WorkloadsFileError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected the file to be rejected");
}

test("a valid file: defaults, port shorthand, string command, env and replicas", () => {
  const ws = parseWorkloads(
    `workloads:
  - name: reviews-v2
    namespace: shop
    serviceAccount: bookinfo-reviews
    labels: { app: reviews, version: v2 }
    ports: [ { name: http, port: 9080 }, { name: grpc, port: 7070 } ]
    command: ["node", "reviews.ts"]
    env: { SERVICE_VERSION: v2, RETRIES: 3 }
    replicas: 2
  - name: web
    port: 8000
    command: "python3 -m http.server $PORT"
`,
    "w.yaml",
  );
  assert.equal(ws.length, 2);
  assert.deepEqual(ws[0], {
    name: "reviews-v2",
    namespace: "shop",
    serviceAccount: "bookinfo-reviews",
    labels: { app: "reviews", version: "v2" },
    ports: [{ name: "http", port: 9080 }, { name: "grpc", port: 7070 }],
    command: ["node", "reviews.ts"],
    env: { SERVICE_VERSION: "v2", RETRIES: "3" },
    replicas: 2,
    line: 2,
  });
  assert.deepEqual(
    { ...ws[1], line: 0 },
    { name: "web", namespace: "default", serviceAccount: "default", labels: {}, ports: [{ name: "http", port: 8000 }], command: "python3 -m http.server $PORT", env: {}, replicas: 1, line: 0 },
  );
});

test("the Bookinfo example's workloads file is valid", async () => {
  const ws = await readWorkloadsFile(new URL("../../examples/bookinfo/workloads.yaml", import.meta.url).pathname);
  assert.deepEqual(ws.map((w) => w.name), ["productpage-v1", "details-v1", "reviews-v1", "reviews-v2", "reviews-v3", "ratings-v1"]);
  assert.ok(ws.every((w) => w.ports[0]?.port === 9080 && w.serviceAccount === `bookinfo-${w.labels.app}`));
  assert.deepEqual(ws.filter((w) => w.labels.app === "reviews").map((w) => w.env.SERVICE_VERSION), ["v1", "v2", "v3"]);
});

test("unknown field: named, with its position and the allowed fields", () => {
  const p = problems(`workloads:\n  - name: a\n    command: [x]\n    lables: { app: a }\n`);
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^w\.yaml:4:5: workloads\[0\]: unknown field "lables"; allowed: name, namespace, serviceAccount, labels/);
});

test("missing command and missing name", () => {
  const p = problems(`workloads:\n  - name: a\n  - command: [x]\n`);
  assert.equal(p.length, 2);
  assert.match(p[0]!, /^w\.yaml:2:5: workloads\[0\]: missing command; add command: \["node", "app\.ts"\]/);
  assert.match(p[1]!, /^w\.yaml:3:5: workloads\[1\]: missing name; use a DNS-1123 name/);
});

test("duplicate names point at the first one", () => {
  const p = problems(`workloads:\n  - name: a\n    command: [x]\n  - name: a\n    command: [y]\n`);
  assert.deepEqual(p, ['w.yaml:4:1: workloads: duplicate name "a" (first at line 2); names must be unique']);
});

test("bad ports: out of range, not a number, sidecar's own, listed twice, both forms", () => {
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    port: 70000\n`)[0]!, /^w\.yaml:4:11: workloads\[0\]\.port: bad port 70000; use a number 1\.\.65535/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    ports: [{ name: http, port: web }]\n`)[0]!, /workloads\[0\]\.ports\[0\]\.port: bad port "web"/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    port: 15001\n`)[0]!, /port 15001 is the sidecar's outbound proxy port on the pod IP; pick another port/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    ports: [8000, 8000]\n`)[0]!, /port 8000 is listed twice/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    port: 1\n    ports: [2]\n`)[0]!, /has both port and ports; keep one/);
});

test("bad names, labels, command, replicas, env", () => {
  assert.match(problems(`workloads:\n  - name: Reviews_V2\n    command: [x]\n`)[0]!, /workloads\[0\]\.name: bad value "Reviews_V2"; use a DNS-1123 name/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    labels: { "bad key!": v }\n`)[0]!, /workloads\[0\]\.labels: bad label bad key!=v/);
  assert.match(problems(`workloads:\n  - name: a\n    command: []\n`)[0]!, /workloads\[0\]\.command: must be a non-empty list of strings/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    replicas: 0\n`)[0]!, /workloads\[0\]\.replicas: bad replicas 0; use a whole number 1\.\.50/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\n    env: [A]\n`)[0]!, /workloads\[0\]\.env: must be a map/);
});

test("wrong shape and broken YAML are one line each", () => {
  assert.deepEqual(problems(`- name: a\n`), ['w.yaml:1:1: top level: expected "workloads:" followed by a list of workloads (see docs/workloads.md)']);
  assert.match(problems(`workloads: []\n`)[0]!, /workloads: must be a non-empty list/);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x\n`)[0]!, /^w\.yaml:\d+:\d+: YAML: /);
  assert.match(problems(`workloads:\n  - name: a\n    command: [x]\nextra: 1\n`)[0]!, /^w\.yaml:4:1: top level: unknown field "extra"/);
  for (const p of problems(`workloads:\n  - name: a\n    name: b\n    command: [x]\n`)) assert.doesNotMatch(p, /\n/);
});

test("a missing file says which and how to fix", async () => {
  await assert.rejects(readWorkloadsFile("/nonexistent/workloads.yaml"), /\/nonexistent\/workloads\.yaml: cannot read it \(ENOENT\); a mesh folder needs a workloads\.yaml/);
});
