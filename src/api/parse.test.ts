import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigDir, parseConfigText } from "./index.ts";

const VS = (name: string, ns = "") => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
${ns ? `  namespace: ${ns}\n` : ""}spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}}
`;

test("objects carry defaults, source position and the YAML's own values", () => {
  const r = parseConfigText(`---\n# leading comment\n---\n${VS("reviews")}---\n${VS("ratings", "prod")}\n---\n`, "m.yaml");
  assert.deepEqual(r.errors, []);
  assert.equal(r.objects.length, 2);
  const [reviews, ratings] = r.objects;
  assert.equal(reviews!.metadata.namespace, "default");
  assert.deepEqual(reviews!.source, { file: "m.yaml", line: 4, column: 1 });
  assert.equal(ratings!.metadata.namespace, "prod");
  assert.equal(ratings!.apiVersion, "networking.istio.io/v1");
  assert.deepEqual(ratings!.spec.hosts, ["ratings"]);
});

test("errors name the object and the field's own line and column", () => {
  const text = VS("reviews").replace("    - destination: {host: reviews}\n", "    - destination: {host: reviews}\n      weight: -3\n    - destination: {host: reviews, subset: v2}\n      weight: 103\n");
  const r = parseConfigText(text, "w.yaml");
  assert.equal(r.objects.length, 0);
  const e = r.errors.find((x) => x.field === "spec.http[0].route[1].weight")!;
  assert.equal(e.line, 12);
  assert.equal(e.column, 7);
  assert.equal(e.kind, "VirtualService");
  assert.equal(e.name, "reviews");
  assert.equal(e.namespace, "default");
  assert.ok(r.errors.some((x) => x.field === "spec.http[0].route[0].weight" && /between 0 and 100/.test(x.message)));
});

test("duplicate YAML keys and tabs are syntax errors with a line", () => {
  const r = parseConfigText("kind: A\nkind: B\n", "d.yaml");
  assert.equal(r.errors[0]!.line, 2);
  assert.match(r.errors[0]!.message, /YAML syntax error/);
});

test("loadConfigDir: sorted recursive read, skips workloads.yaml, duplicates across files point to the first", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-load-"));
  try {
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "b.yaml"), VS("reviews"));
    await writeFile(join(dir, "a.yml"), "\n\n" + VS("reviews"));
    await writeFile(join(dir, "sub", "c.yaml"), VS("ratings"));
    await writeFile(join(dir, "workloads.yaml"), "workloads: [ {");
    await writeFile(join(dir, "notes.txt"), "not yaml at all: [");
    const r = await loadConfigDir(dir);
    assert.deepEqual(r.files, [join(dir, "a.yml"), join(dir, "b.yaml"), join(dir, "sub", "c.yaml")]);
    assert.deepEqual(r.objects.map((o) => o.metadata.name), ["reviews", "ratings"]);
    assert.equal(r.objects[0]!.source.file, join(dir, "a.yml"));
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.file, join(dir, "b.yaml"));
    assert.match(r.errors[0]!.message, new RegExp(`already defined at ${join(dir, "a.yml").replace(/[.]/g, "\\.")}:3`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("loadConfigDir never throws for user mistakes", async () => {
  const missing = await loadConfigDir(join(tmpdir(), "mizzen-definitely-missing-dir"));
  assert.deepEqual(missing.objects, []);
  assert.match(missing.errors[0]!.message, /does not exist/);
  const dir = await mkdtemp(join(tmpdir(), "mizzen-load-"));
  try {
    await writeFile(join(dir, "x.yaml"), VS("x"));
    const notDir = await loadConfigDir(join(dir, "x.yaml"));
    assert.match(notDir.errors[0]!.message, /not a directory/);
    await symlink(join(dir, "nowhere.yaml"), join(dir, "dangling.yaml"));
    const unreadable = await loadConfigDir(dir);
    assert.equal(unreadable.errors[0]!.file, join(dir, "dangling.yaml"));
    assert.match(unreadable.errors[0]!.message, /cannot read file: ENOENT/);
    assert.equal(unreadable.objects.length, 1, "the other file still loads");
    await writeFile(join(dir, "bin.yaml"), Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x9c]));
    const r = await loadConfigDir(dir);
    assert.ok(Array.isArray(r.errors));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
