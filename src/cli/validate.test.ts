import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateCommand } from "./validate.ts";

function capture() {
  const logs: string[] = [];
  const errors: string[] = [];
  return { logs, errors, out: { log: (l: string) => logs.push(l), error: (l: string) => errors.push(l) } };
}

const GOOD = `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;

test("a clean folder exits 0 with a summary", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-validate-"));
  try {
    await writeFile(join(dir, "mesh.yaml"), GOOD);
    const c = capture();
    assert.equal(await validateCommand(dir, c.out), 0);
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.logs, ["2 objects valid, 0 rejected, 0 warnings in 1 file"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the folder's meshconfig.yaml is checked as mizzen up would pass it: its errors fail validation", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-validate-"));
  try {
    await writeFile(join(dir, "mesh.yaml"), GOOD);
    await writeFile(join(dir, "meshconfig.yaml"), "defaultConfig:\n  tracing: { sampling: 150 }\n");
    const c = capture();
    assert.equal(await validateCommand(dir, c.out), 1);
    assert.equal(c.errors.length, 1);
    assert.match(c.errors[0]!, /meshconfig\.yaml:2:\d+: MeshConfig: defaultConfig\.tracing\.sampling: sampling must be a percentage from 0\.0 to 100\.0, not 150/);
    assert.deepEqual(c.logs, ["2 objects valid, 0 rejected, 0 warnings in 1 file; meshconfig.yaml has 1 error (the control plane would not start)"]);
    await writeFile(join(dir, "meshconfig.yaml"), "defaultConfig:\n  tracing: { sampling: 10 }\n");
    const ok = capture();
    assert.equal(await validateCommand(dir, ok.out), 0);
    assert.deepEqual(ok.logs, ["2 objects valid, 0 rejected, 0 warnings in 1 file; meshconfig.yaml valid"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("errors and warnings are one line each, with file:line, and exit 1", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-validate-"));
  try {
    await writeFile(join(dir, "a.yaml"), GOOD);
    await writeFile(join(dir, "b.yaml"), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings, subset: v1}
      weight: fifty
    - destination: {host: ratings, subset: v2}
      weight: 50
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings-v1}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext}
spec:
  action: CUSTOM
`);
    await writeFile(join(dir, "c.yml"), "kind: [unclosed\n");
    await writeFile(join(dir, "workloads.yaml"), "this is the local runner's file: [\n");
    const c = capture();
    assert.equal(await validateCommand(dir, c.out), 1);
    assert.equal(c.errors.length, 3, c.errors.join("\n"));
    assert.equal(c.errors[0], `${join(dir, "b.yaml")}:9:7: VirtualService default/ratings: spec.http[0].route[0].weight: must be an integer (got "fifty")`);
    assert.match(c.errors[1]!, /b\.yaml:22:3: AuthorizationPolicy default\/ext: spec\.action: CUSTOM \(external authorization\) is not supported yet by Mizzen/);
    assert.match(c.errors[2]!, /c\.yml:\d+:\d+: YAML syntax error/);
    assert.equal(c.logs.length, 2);
    assert.match(c.logs[0]!, /^warning: .*b\.yaml:14:1: Deployment default\/ratings-v1: kind Deployment \(apps\/v1\) is ignored by Mizzen$/);
    assert.equal(c.logs[1], "2 objects valid, 3 rejected, 1 warning in 3 files");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a missing folder is one line and exit 1", async () => {
  const c = capture();
  assert.equal(await validateCommand("./x-does-not-exist", c.out), 1);
  assert.deepEqual(c.errors, ["mizzen validate: directory ./x-does-not-exist does not exist; pass the folder holding your Istio YAML"]);
  assert.deepEqual(c.logs, []);
});
