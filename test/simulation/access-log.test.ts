// Telemetry access logging through the whole pipeline: YAML -> translators -> xDS wire ->
// the proxy's compiled loggers, which then format and filter requests as the proxy would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies } from "../../src/registry/fixtures.ts";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../../src/translate/index.ts";
import { formatAccessLog, writeAccessLogs } from "../../src/proxy/http/access-log.ts";
import { RequestLog } from "../../src/proxy/http/request-log.ts";
import type { Snapshot } from "../../src/proxy/state/types.ts";
import { simulate } from "./simulate.ts";

function loggers(snap: Snapshot, listener: string) {
  return snap.listeners.get(listener)?.filterChains[0]?.hcm?.accessLog?.loggers ?? [];
}

function served(status: number): RequestLog {
  const r = new RequestLog();
  r.method = "GET";
  r.path = "/ratings/0";
  r.status = status;
  r.authority = "ratings:9080";
  r.requestId = "id-1";
  return r;
}

test("the built-in envoy provider prints exactly the proxy's Istio text line", () => {
  const proxies = bookinfoProxies();
  const sim = simulate({ config: [], proxies, proxy: proxies[3]!, mesh: DEFAULT_MESH_CONFIG });
  const [logger] = loggers(sim.snapshot, "http_proxy");
  assert.ok(logger);
  const r = served(503);
  r.addFlag("UF");
  assert.equal(logger.format(r, r.start + 9), formatAccessLog(r, r.start + 9));
});

test("Telemetry: JSON provider on outbound only, 5xx only", () => {
  const proxies = bookinfoProxies();
  const mesh: MeshConfig = { ...DEFAULT_MESH_CONFIG, accessLog: false, accessLogProviders: [{ name: "json-stdout", path: "/dev/stdout", logFormat: { labels: {} } }] };
  const yaml = `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: json-stdout }]
    match: { mode: CLIENT }
    filter: { expression: "response.code >= 500" }
`;
  const sim = simulate({ config: yaml, proxies, proxy: proxies[3]!, mesh });
  const inbound = [...sim.snapshot.listeners.keys()].filter((n) => n.startsWith("inbound|"));
  assert.ok(inbound.length > 0);
  for (const n of inbound) assert.deepEqual(loggers(sim.snapshot, n), [], `${n} does not log (mode CLIENT)`);
  const out: string[] = [];
  for (const status of [200, 404, 503]) writeAccessLogs(loggers(sim.snapshot, "http_proxy"), served(status), {}, (l) => out.push(l));
  assert.equal(out.length, 1);
  const o = JSON.parse(out[0]!) as Record<string, unknown>;
  assert.equal(o.response_code, 503);
  assert.equal(o.path, "/ratings/0");
  assert.equal(o.request_id, "id-1");
});
