// DirectorySource against real temporary directories: edits, broken saves, deletes, no-ops,
// editor-style rename saves, and the whole folder vanishing and coming back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigStore } from "./store.ts";
import { DirectorySource } from "./directory-source.ts";

const KEY = "VirtualService/default/reviews";
const vs = (route: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
${route}`;
const V1 = vs("    - destination: {host: reviews, subset: v1}\n");
const SPLIT = vs("    - destination: {host: reviews, subset: v2}\n      weight: 50\n    - destination: {host: reviews, subset: v3}\n      weight: 50\n");
const BROKEN = vs("    - destination: {host: reviews, subset: v2}\n      weight: fif");

/** Polls `cond` every 10 ms; fails after `ms` (bounded, not a timing assertion). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-config-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const store = new ConfigStore();
  const events: string[][] = [];
  store.onChange((changed) => events.push([...changed]));
  const source = new DirectorySource({ dir, store, debounceMs: 20, pollMs: 50 });
  await source.start();
  return { dir, store, events, source, cleanup: async () => { source.close(); await rm(dir, { recursive: true, force: true }); } };
}

const splitIn = (store: ConfigStore) => ((store.get(KEY)?.spec.http as { route: unknown[] }[] | undefined)?.[0]?.route.length ?? 0) === 2;

test("edit, break, fix, no-op and delete are seen in order", async () => {
  const { dir, store, events, source, cleanup } = await setup({ "reviews.yaml": V1, "workloads.yaml": "not: istio\n" });
  try {
    assert.deepEqual(events, [[KEY]], "initial load");
    assert.deepEqual(store.fileErrors(), [], "workloads.yaml is skipped");

    await writeFile(join(dir, "reviews.yaml"), SPLIT);
    await until(() => events.length === 2, "change event for the 50/50 split");
    assert.deepEqual(events[1], [KEY]);
    assert.ok(splitIn(store));

    let reloads = source.reloads;
    await writeFile(join(dir, "reviews.yaml"), BROKEN);
    await until(() => store.status()[0]?.state === "rejected-kept-last-good", "broken version rejected");
    assert.equal(events.length, 2, "no push for a rejected edit");
    assert.ok(splitIn(store), "last good still in force");
    assert.match(store.status()[0]!.errors[0]!.message, /must be an integer/);

    await writeFile(join(dir, "reviews.yaml"), V1);
    await until(() => store.status()[0]?.state === "accepted", "fixed version accepted");
    assert.equal(events.length, 3);

    reloads = source.reloads;
    await writeFile(join(dir, "reviews.yaml"), V1);
    await until(() => source.reloads > reloads, "re-read after the no-op save");
    assert.equal(events.length, 3, "a no-op rewrite pushes nothing");

    // Editors save by writing a temp file then renaming it over the original.
    await writeFile(join(dir, ".reviews.yaml.tmp"), SPLIT);
    await rename(join(dir, ".reviews.yaml.tmp"), join(dir, "reviews.yaml"));
    await until(() => events.length === 4 && splitIn(store), "rename-save seen");

    await rm(join(dir, "reviews.yaml"));
    await until(() => store.get(KEY) === undefined, "object removed");
    assert.deepEqual(events[4], [KEY]);
    assert.deepEqual(store.status(), []);
  } finally {
    await cleanup();
  }
});

test("files in sub-folders are watched too", async () => {
  const { dir, store, cleanup } = await setup({});
  try {
    await mkdir(join(dir, "team-a"));
    await writeFile(join(dir, "team-a", "reviews.yml"), V1);
    await until(() => store.get(KEY) !== undefined, "object from a sub-folder");
  } finally {
    await cleanup();
  }
});

test("the folder deleted and re-created: last good stays, then the new content wins", async () => {
  const { dir, store, events, cleanup } = await setup({ "reviews.yaml": V1 });
  try {
    await rm(dir, { recursive: true, force: true });
    await until(() => store.fileErrors().some((e) => /does not exist/.test(e.message)), "missing folder reported");
    assert.ok(store.get(KEY), "last good config kept while the folder is gone");
    await mkdir(dir);
    await writeFile(join(dir, "reviews.yaml"), SPLIT);
    await until(() => splitIn(store), "new content after re-creation");
    assert.deepEqual(events.at(-1), [KEY]);
    assert.deepEqual(store.fileErrors(), []);
  } finally {
    await cleanup();
  }
});

test("a reader that throws is contained", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mizzen-config-"));
  const store = new ConfigStore();
  const source = new DirectorySource({ dir, store, load: async () => { throw new Error("disk on fire"); } });
  try {
    await assert.doesNotReject(source.start());
    assert.deepEqual(store.objects(), []);
  } finally {
    source.close();
    await rm(dir, { recursive: true, force: true });
  }
});
