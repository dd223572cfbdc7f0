// The corpus: every file under testdata/valid must load without errors; every file under
// testdata/invalid declares (in "# expect:" / "# line:" comments) the message it must produce.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigDir, parseConfigText } from "./index.ts";
import { formatConfigError } from "./types.ts";

const here = import.meta.dirname;

test("valid corpus loads with zero errors and every object accepted", async () => {
  const result = await loadConfigDir(join(here, "testdata/valid"));
  assert.deepEqual(result.errors.map(formatConfigError), []);
  assert.ok(result.files.some((f) => f.endsWith("nested/tcp.yml")), "recurses into folders and reads .yml");
  const keys = result.objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`);
  for (const k of ["VirtualService/default/reviews", "DestinationRule/default/reviews", "Service/default/reviews", "ServiceEntry/payments/vm-payments", "WorkloadEntry/payments/payments-vm-1", "Gateway/default/bookinfo-gateway", "Sidecar/default/default", "PeerAuthentication/istio-system/default", "AuthorizationPolicy/default/reviews-viewer", "Telemetry/istio-system/mesh-default", "VirtualService/db/mongo"]) {
    assert.ok(keys.includes(k), `expected ${k} among ${keys.join(", ")}`);
  }
  const reviews = result.objects.find((o) => o.kind === "VirtualService" && o.metadata.name === "reviews")!;
  assert.equal(reviews.source.line, 1);
  assert.ok(reviews.source.file.endsWith("reviews-routing.yaml"));
});

const invalidDir = join(here, "testdata/invalid");
const invalidFiles = readdirSync(invalidDir).filter((f) => f.endsWith(".yaml")).sort();

test("the invalid corpus has at least 25 cases", () => {
  assert.ok(invalidFiles.length >= 25, `only ${invalidFiles.length} cases`);
});

for (const name of invalidFiles) {
  test(`invalid/${name}`, () => {
    const text = readFileSync(join(invalidDir, name), "utf8");
    const expects = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!.trim());
    const line = /^# line: (\d+)$/m.exec(text)?.[1];
    assert.ok(expects.length > 0, "case declares # expect:");
    const result = parseConfigText(text, name);
    const lines = result.errors.map((e) => ({ text: formatConfigError(e), line: e.line }));
    for (const want of expects) {
      const hit = lines.find((l) => l.text.includes(want));
      assert.ok(hit, `expected "${want}" in:\n${lines.map((l) => l.text).join("\n")}`);
      if (line) assert.equal(hit.line, Number(line), `line of "${hit.text}"`);
    }
    // A case that expects only a warning keeps its object; every other case rejects it.
    if (result.errors.every((e) => e.severity === "warning")) assert.ok(result.errors.length > 0);
    else if (!name.startsWith("duplicate")) assert.equal(result.objects.length, 0, "the invalid object is not accepted");
  });
}
