import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { envoyDescriptorText } from "./envoy-descriptor.ts";
import { envoyRoot, OBJECT_FORM, parseEnvoyProtos, ROOT_FILES } from "./protos.ts";
import { TYPE } from "./envoy-types.ts";

const committedText = readFileSync(new URL("./envoy-descriptor.json", import.meta.url), "utf8");
const parsed = parseEnvoyProtos();

test("the committed envoy-descriptor.json is what the generator makes from ROOT_FILES", () => {
  // Fails after a change to ROOT_FILES or an upgrade of @grpc/grpc-js-xds: regenerate, never edit.
  assert.ok(committedText === envoyDescriptorText(), "src/xds/envoy-descriptor.json is stale: run `npx node scripts/envoy-descriptor.ts` and commit the result");
});

test("envoyRoot() loads the committed descriptor, not the .proto text", () => {
  const descriptor = JSON.parse(committedText) as { files: string[] };
  assert.deepEqual(descriptor.files, [...ROOT_FILES]);
  assert.equal(envoyRoot().files.length, 0, "a root built from JSON has no source files");
  assert.ok(!committedText.includes("(validate.rules)"), "custom options are pruned");
});

function fieldShape(type: protobuf.Type): string[] {
  return type.fieldsArray.map((f) => `${f.name}=${f.id}:${f.repeated ? "repeated" : ""}:${f.resolve().resolvedType?.fullName ?? f.type}:${f instanceof protobuf.MapField ? f.keyType : ""}:${f.packed}`);
}

test("every message declared in a listed file keeps its exact fields in the pruned root", () => {
  const pruned = envoyRoot();
  let checked = 0;
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const child of ns.nestedArray) {
      if (child instanceof protobuf.Type && ROOT_FILES.some((f) => child.filename?.endsWith(`/${f}`))) {
        const twin = pruned.lookupType(child.fullName);
        assert.deepEqual(fieldShape(twin), fieldShape(child), child.fullName);
        checked++;
      }
      if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) visit(child);
    }
  };
  visit(parsed);
  assert.ok(checked > 50, `expected the listed files to declare many messages, found ${checked}`);
});

test("bytes written with the full .proto root decode the same with the pruned root", () => {
  const cluster = {
    name: "outbound|9080|v1|reviews.default.svc.cluster.local",
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: "outbound|9080|v1|reviews.default.svc.cluster.local" },
    connect_timeout: { seconds: 10 },
    circuit_breakers: { thresholds: [{ max_connections: { value: 1024 }, max_retries: { value: 3 } }] },
    outlier_detection: { consecutive_5xx: { value: 5 }, interval: { seconds: 10 } },
    metadata: { filter_metadata: { istio: { fields: { config: { string_value: "/apis/x" } } } } },
  };
  const full = parsed.lookupType("envoy.config.cluster.v3.Cluster");
  const bytes = full.encode(full.fromObject(cluster)).finish();
  const mine = envoyRoot().lookupType("envoy.config.cluster.v3.Cluster");
  assert.deepEqual(mine.toObject(mine.decode(bytes), OBJECT_FORM), full.toObject(full.decode(bytes), OBJECT_FORM));
  assert.equal(TYPE.cluster, `type.googleapis.com/${mine.fullName.slice(1)}`);
});
