import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "../api/index.ts";
import { ConfigStore } from "./store.ts";
import { pino } from "pino";

const vs = (subsetLines: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
${subsetLines}`;
const V1 = vs("    - destination: {host: reviews, subset: v1}\n");
const SPLIT = vs("    - destination: {host: reviews, subset: v2}\n      weight: 50\n    - destination: {host: reviews, subset: v3}\n      weight: 50\n");
const BROKEN = vs("    - destination: {host: reviews, subset: v2}\n      weight: fifty\n    - destination: {host: reviews, subset: v3}\n      weight: 50\n");
const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
`;
const KEY = "VirtualService/default/reviews";

function setup() {
  let clock = 1000;
  const store = new ConfigStore({ now: () => clock });
  const events: string[][] = [];
  store.onChange((changed) => events.push([...changed]));
  const feed = (...texts: string[]) => {
    clock += 1;
    const parts = texts.map((t, i) => parseConfigText(t, `f${i}.yaml`));
    return store.update({ objects: parts.flatMap((p) => p.objects), errors: parts.flatMap((p) => p.errors) });
  };
  return { store, events, feed };
}

test("accepts, replaces on edit, and reports the changed key", () => {
  const { store, events, feed } = setup();
  feed(V1, DR);
  assert.deepEqual(events, [["VirtualService/default/reviews", "DestinationRule/default/reviews"]]);
  assert.equal(store.version, 1);
  assert.deepEqual(store.objects().map((o) => `${o.kind}/${o.metadata.name}`), ["DestinationRule/reviews", "VirtualService/reviews"]);
  feed(SPLIT, DR);
  assert.deepEqual(events[1], [KEY]);
  assert.equal(store.version, 2);
  const route = (store.get(KEY)!.spec.http as { route: unknown[] }[])[0]!.route;
  assert.equal(route.length, 2);
});

test("a broken edit keeps the last good version in force and says so", () => {
  const { store, events, feed } = setup();
  feed(SPLIT);
  const acceptedAt = store.status()[0]!.acceptedAt;
  feed(BROKEN);
  assert.equal(events.length, 1, "no change event: the effective config did not change");
  const s = store.status().find((x) => x.key === KEY)!;
  assert.equal(s.state, "rejected-kept-last-good");
  assert.equal(s.acceptedAt, acceptedAt);
  assert.match(s.errors[0]!.message, /must be an integer/);
  assert.equal(s.line, s.errors[0]!.line);
  assert.equal((store.get(KEY)!.spec.http as { route: unknown[] }[])[0]!.route.length, 2);
  feed(V1);
  assert.equal(store.status()[0]!.state, "accepted");
  assert.deepEqual(store.status()[0]!.errors, []);
  assert.deepEqual(events[1], [KEY]);
});

test("a never-valid object stays out; a removed object goes away", () => {
  const { store, events, feed } = setup();
  feed(BROKEN, DR);
  assert.equal(store.status().find((x) => x.key === KEY)!.state, "rejected");
  assert.equal(store.get(KEY), undefined);
  assert.deepEqual(events, [["DestinationRule/default/reviews"]]);
  feed(BROKEN);
  assert.deepEqual(events[1], ["DestinationRule/default/reviews"]);
  assert.deepEqual(store.objects(), []);
  feed();
  assert.deepEqual(store.status(), []);
  assert.equal(events.length, 2, "dropping a never-accepted object changes nothing in force");
});

test("a no-op rewrite (same spec, other position) emits nothing", () => {
  const { store, events, feed } = setup();
  feed(V1);
  feed("# a comment that moves every line\n\n" + V1);
  assert.equal(events.length, 1);
  assert.equal(store.version, 1);
  assert.equal(store.get(KEY)!.source.line, 3, "the position is refreshed anyway");
});

test("file-level errors and ignored kinds are kept apart from objects", () => {
  const { store, feed } = setup();
  feed("a: [1,\n", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n", V1);
  const fileErrors = store.fileErrors();
  assert.equal(fileErrors.length, 2);
  assert.ok(fileErrors.some((e) => e.severity === "warning" && /ignored by Mizzen/.test(e.message)));
  assert.deepEqual(store.status().map((s) => s.key), [KEY]);
  store.reportSourceProblem([{ file: "x", line: 1, field: "", severity: "error", message: "gone" }]);
  assert.equal(store.fileErrors()[0]!.message, "gone");
  assert.equal(store.objects().length, 1);
});

test("a throwing listener does not break the store", () => {
  const { store, feed } = setup();
  store.onChange(() => {
    throw new Error("boom");
  });
  assert.doesNotThrow(() => feed(V1));
  assert.equal(store.version, 1);
});

test("a rejection is logged once, as one line with file, line and the fix", () => {
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (l: string) => lines.push((JSON.parse(l) as { msg: string }).msg) });
  const store = new ConfigStore({ logger });
  store.update(parseConfigText(V1, "vs.yaml"));
  assert.deepEqual(lines, []);
  store.update(parseConfigText(BROKEN, "vs.yaml"));
  store.update(parseConfigText(BROKEN, "vs.yaml")); // a re-read with the same problem says nothing new
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^vs\.yaml:10:\d+: VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]\.weight: must be an integer \(got "fifty"\) \(the last good version stays in force\)$/);
});
