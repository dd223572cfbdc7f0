import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/logger.ts";
import { UserError } from "../cli/user-error.ts";
import { parseMeshConfigText } from "./mesh-config-file.ts";
import { loadMeshConfigFile } from "./mesh-config-load.ts";
import { loadConfigDir } from "../api/load.ts";

const ISTIO_STYLE = `# the "mesh" key of Istio's istio ConfigMap
accessLogFile: /dev/stdout
accessLogEncoding: JSON
enableTracing: true
meshId: mesh1
defaultConfig:
  tracing:
    sampling: 10
defaultProviders:
  tracing: [otel]
extensionProviders:
- name: otel
  opentelemetry:
    service: opentelemetry-collector.observability.svc.cluster.local
    port: 4318
    http:
      path: /v1/traces
      timeout: 2s
      headers:
      - name: x-tenant
        value: team-a
- name: zipkin
  zipkin:
    service: observability/zipkin.observability.svc.cluster.local
    port: 9411
- name: json-log
  envoyFileAccessLog:
    path: /dev/stdout
    logFormat:
      labels: { code: "%RESPONSE_CODE%" }
- name: otel-grpc
  opentelemetry:
    service: opentelemetry-collector.observability.svc.cluster.local
    port: 4317
    grpc: { timeout: 3s, initialMetadata: [{ name: x-tenant, value: team-b }] }
`;

test("Istio's MeshConfig YAML: tracing providers, defaults, sampling and access log settings", () => {
  const { mesh, errors } = parseMeshConfigText(ISTIO_STYLE, "meshconfig.yaml");
  assert.deepEqual(errors, []);
  assert.equal(mesh.accessLog, true);
  assert.equal(mesh.accessLogEncoding, "JSON");
  assert.equal(mesh.enableTracing, true);
  assert.equal(mesh.meshId, "mesh1");
  assert.equal(mesh.tracingSampling, 10);
  assert.deepEqual(mesh.defaultTracingProviders, ["otel"]);
  assert.deepEqual(mesh.tracingProviders, [
    { kind: "opentelemetry", name: "otel", service: "opentelemetry-collector.observability.svc.cluster.local", port: 4318,
      http: { path: "/v1/traces", timeout: { seconds: 2 }, headers: [{ name: "x-tenant", value: "team-a" }] }, source: { file: "meshconfig.yaml", line: 13 } },
    { kind: "zipkin", name: "zipkin", service: "observability/zipkin.observability.svc.cluster.local", port: 9411, source: { file: "meshconfig.yaml", line: 23 } },
    { kind: "opentelemetry", name: "otel-grpc", service: "opentelemetry-collector.observability.svc.cluster.local", port: 4317,
      grpc: { timeout: { seconds: 3 }, initialMetadata: [{ name: "x-tenant", value: "team-b" }] }, source: { file: "meshconfig.yaml", line: 32 } },
  ]);
  assert.deepEqual(mesh.accessLogProviders, [{ name: "json-log", path: "/dev/stdout", logFormat: { labels: { code: "%RESPONSE_CODE%" } } }]);
});

test("wrong values are errors naming the line and field; unsupported settings are warnings", () => {
  const text = `extensionProviders:
- name: otel
  opentelemetry:
    service: collector.example
    port: 99999
- name: grpc-otel
  opentelemetry: { service: collector.example, port: 4317, grpc: { timeout: soon } }
- name: ext
  envoyExtAuthzHttp: { service: authz.example, port: 80 }
- name: nothing
defaultConfig:
  tracing:
    sampling: 150
defaultProviders:
  tracing: [missing]
proxyListenPort: 15001
`;
  const { errors } = parseMeshConfigText(text, "meshconfig.yaml");
  const at = (field: string) => errors.find((e) => e.field === field);
  assert.deepEqual([at("extensionProviders[0].opentelemetry.port")?.line, at("extensionProviders[0].opentelemetry.port")?.severity], [5, "error"]);
  assert.match(at("extensionProviders[0].opentelemetry.port")!.message, /99999 is not a port/);
  assert.equal(at("extensionProviders[1].opentelemetry.grpc.timeout")?.severity, "error");
  assert.match(at("extensionProviders[1].opentelemetry.grpc.timeout")!.message, /"soon" is not a duration/);
  assert.match(at("extensionProviders[2]")!.message, /envoyExtAuthzHttp.*not supported/);
  assert.equal(at("extensionProviders[3]")?.severity, "error");
  assert.deepEqual([at("defaultConfig.tracing.sampling")?.line, at("defaultConfig.tracing.sampling")?.severity], [13, "error"]);
  assert.match(at("defaultProviders.tracing[0]")!.message, /"missing" is not an opentelemetry or zipkin provider/);
  assert.equal(at("proxyListenPort")?.severity, "warning");
  // Syntax errors and non-map documents are errors too, never exceptions.
  assert.equal(parseMeshConfigText("a: [1,\n", "m.yaml").errors[0]?.severity, "error");
  assert.match(parseMeshConfigText("- 1\n", "m.yaml").errors[0]!.message, /YAML map/);
  assert.deepEqual(parseMeshConfigText("", "m.yaml"), { mesh: {}, errors: [] });
});

test("the control plane refuses an invalid mesh config file with file:line, and a missing one clearly", () => {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-meshcfg-"));
  try {
    const file = join(dir, "meshconfig.yaml");
    writeFileSync(file, "extensionProviders:\n- name: z\n  zipkin: { service: z.example, port: -1 }\n");
    assert.throws(() => loadMeshConfigFile(file, silentLogger), (err: Error) => err instanceof UserError && err.message.includes(`${file}:3`) && /not a port/.test(err.message));
    assert.throws(() => loadMeshConfigFile(join(dir, "none.yaml"), silentLogger), (err: Error) => err instanceof UserError && /cannot read the mesh config .*ENOENT/.test(err.message));
    writeFileSync(file, ISTIO_STYLE);
    assert.equal(loadMeshConfigFile(file, silentLogger).tracingProviders?.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("meshconfig.yaml beside the config is not read as Istio objects", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-meshcfg-dir-"));
  try {
    writeFileSync(join(dir, "meshconfig.yaml"), ISTIO_STYLE);
    writeFileSync(join(dir, "svc.yaml"), "apiVersion: v1\nkind: Service\nmetadata: { name: a, namespace: default }\nspec: { selector: { app: a }, ports: [ { name: http, port: 80 } ] }\n");
    const { objects, errors } = await loadConfigDir(dir);
    assert.deepEqual(errors, []);
    assert.deepEqual(objects.map((o) => o.kind), ["Service"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
