// The bench switches plaintext / mTLS by YAML and waits until /config_dump shows the switch:
// check the YAML is valid Istio config and that the checks agree with what the translator
// really generates for both sidecars in each mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "../../src/api/index.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { inputFor } from "../../src/translate/test-support.ts";
import { translate } from "../../src/translate/index.ts";
import { APP_HOST, APP_PORT, CLIENT_POD, SERVER_POD, clientRunsMode, modeYaml, serverRunsMode, type MeshMode } from "./mtls-mesh.ts";

const MODES: MeshMode[] = [
  { security: "plaintext", newConnectionPerRequest: false },
  { security: "plaintext", newConnectionPerRequest: true },
  { security: "mtls", newConnectionPerRequest: false },
  { security: "mtls", newConnectionPerRequest: true },
];

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: upstream, namespace: default }
spec:
  selector: { app: upstream }
  ports: [{ name: http, port: ${APP_PORT} }]
`;

const flags = { xds: "x", namespace: "default", ports: "", autoRegister: true, adminPort: "15000" };
const server = nodeFromFlags({ ...flags, ip: SERVER_POD, name: "upstream-v1", labels: "app=upstream,version=v1", serviceAccount: "upstream", ports: `http:${APP_PORT}`, appAddress: APP_HOST });
const client = nodeFromFlags({ ...flags, ip: CLIENT_POD, name: "client", labels: "app=client", serviceAccount: "client" });

function resourcesIn(m: MeshMode) {
  const parsed = parseConfigText(`${SERVICE}---\n${modeYaml(m)}`, "mode.yaml");
  assert.deepEqual(parsed.errors, [], `modeYaml(${JSON.stringify(m)}) is valid config`);
  const asDump = (proxy: typeof server) => {
    const r = translate(inputFor(parsed.objects, [server, client], proxy));
    return { clusters: r.clusters as unknown as Record<string, unknown>[], listeners: r.listeners as unknown as Record<string, unknown>[] };
  };
  return { objects: parsed.objects, client: asDump(client), server: asDump(server) };
}

test("each mode's YAML is valid: PeerAuthentication mesh-wide, a DestinationRule only when needed", () => {
  for (const m of MODES) {
    const { objects } = resourcesIn(m);
    const pa = objects.find((o) => o.kind === "PeerAuthentication");
    assert.equal(pa?.metadata.namespace, "istio-system");
    assert.deepEqual(pa?.spec.mtls, { mode: m.security === "mtls" ? "STRICT" : "DISABLE" });
    const dr = objects.find((o) => o.kind === "DestinationRule");
    assert.equal(dr !== undefined, m.security === "plaintext" || m.newConnectionPerRequest);
  }
});

test("the config checks recognise the translator's output for its own mode and no other", () => {
  for (const generated of MODES) {
    const r = resourcesIn(generated);
    for (const wanted of MODES) {
      const same = wanted.security === generated.security && wanted.newConnectionPerRequest === generated.newConnectionPerRequest;
      assert.equal(clientRunsMode(r.client, wanted), same, `client resources of ${JSON.stringify(generated)} checked as ${JSON.stringify(wanted)}`);
      assert.equal(serverRunsMode(r.server, wanted), wanted.security === generated.security, `server resources of ${JSON.stringify(generated)} checked as ${JSON.stringify(wanted)}`);
    }
  }
});

test("no cluster or no inbound listener is never taken as a match", () => {
  assert.equal(clientRunsMode({ clusters: [], listeners: [] }, MODES[0]!), false);
  assert.equal(serverRunsMode({ clusters: [], listeners: [] }, MODES[0]!), false);
  assert.equal(serverRunsMode({ clusters: [], listeners: [{ name: "inbound", address: { socket_address: { port_value: APP_PORT } }, filter_chains: [] }] }, MODES[2]!), false);
});
