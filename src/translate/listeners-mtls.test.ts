// Inbound listeners per PeerAuthentication mode: Istio's filter chain shapes, Envoy's protos
// accept them, and the Mizzen proxy (which receives them decoded) picks the chain a TLS or a
// plaintext connection should get.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { cfg, kubeService, proxy } from "../registry/fixtures.ts";
import type { Listener } from "../xds/envoy-types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { compileListener, selectFilterChain } from "../proxy/state/compile-listener.ts";
import { listenerView, translateListeners } from "./listeners.ts";
import { securityLabelKeys } from "./selector-keys.ts";
import { inputFor } from "./test-support.ts";
import { istioMutualDownstream } from "./tls.ts";

const ROOT = "istio-system";
const finance = proxy("finance-v1", "127.10.1.7", { app: "finance", version: "v1", team: "money" }, {
  namespace: "foo",
  ports: [{ name: "http", containerPort: 9080 }, { name: "http-admin", containerPort: 8080 }],
});

function peerAuth(name: string, namespace: string, spec: Record<string, unknown>): ConfigObject {
  return cfg("PeerAuthentication", name, spec, { namespace });
}

function listenersFor(objects: ConfigObject[], p = finance): Map<string, Listener> {
  const all = [kubeService("finance", 9080, { namespace: "foo" }), ...objects];
  return new Map(translateListeners(inputFor(all, [p], p)).map((l) => [l.name, l]));
}

function inbound(objects: ConfigObject[], port: number, p = finance): Listener {
  const l = listenersFor(objects, p).get(`inbound|${port}`);
  assert.ok(l, `inbound|${port}`);
  return l;
}

const TLS_INSPECTOR = [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } }];

function assertStrict(l: Listener): void {
  assert.deepEqual(l.listener_filters, TLS_INSPECTOR);
  assert.equal(l.filter_chains?.length, 1);
  const [tls] = l.filter_chains!;
  assert.equal(tls!.name, "tls");
  assert.deepEqual(tls!.filter_chain_match, { transport_protocol: "tls" });
  assert.deepEqual(tls!.transport_socket, istioMutualDownstream());
}

function assertPermissive(l: Listener): void {
  assert.deepEqual(l.listener_filters, TLS_INSPECTOR);
  assert.deepEqual(l.filter_chains?.map((c) => [c.name, c.filter_chain_match?.transport_protocol, c.transport_socket?.name]), [
    ["tls", "tls", "envoy.transport_sockets.tls"],
    ["plaintext", "raw_buffer", undefined],
  ]);
  assert.deepEqual(l.filter_chains![0]!.transport_socket, istioMutualDownstream());
  assert.deepEqual(l.filter_chains![0]!.filters, l.filter_chains![1]!.filters, "both transports reach the same HTTP handling");
}

function assertDisable(l: Listener): void {
  assert.equal(l.listener_filters, undefined, "no inspection: every connection is plaintext");
  assert.equal(l.filter_chains?.length, 1);
  const [plain] = l.filter_chains!;
  assert.equal(plain!.name, "plaintext");
  assert.equal(plain!.filter_chain_match, undefined);
  assert.equal(plain!.transport_socket, undefined);
}

test("no PeerAuthentication: PERMISSIVE (a TLS chain and a raw_buffer chain, tls_inspector)", () => {
  const l = inbound([], 9080);
  assertPermissive(l);
  assert.equal(l.traffic_direction, "INBOUND");
  assert.deepEqual(l.address, { socket_address: { address: "127.10.1.7", port_value: 9080 } });
  const hcm = l.filter_chains![0]!.filters[0]!.typed_config;
  assert.equal(hcm["@type"], TYPE.hcm);
  assert.deepEqual(hcm.route_config?.virtual_hosts[0]!.routes[0]!.route, { cluster: "inbound|9080||", timeout: { seconds: 0 } });
});

test("STRICT: a single TLS chain with the mesh context", () => {
  assertStrict(inbound([peerAuth("default", "foo", { mtls: { mode: "STRICT" } })], 9080));
  assertStrict(inbound([peerAuth("default", ROOT, { mtls: { mode: "STRICT" } })], 9080));
});

test("DISABLE: plaintext only", () => {
  assertDisable(inbound([peerAuth("default", "foo", { mtls: { mode: "DISABLE" } })], 9080));
});

test("each port gets its own mode (portLevelMtls), the outbound listener never terminates TLS", () => {
  const objects = [
    peerAuth("default", ROOT, { mtls: { mode: "PERMISSIVE" } }),
    peerAuth("finance", "foo", { selector: { matchLabels: { app: "finance" } }, mtls: { mode: "STRICT" }, portLevelMtls: { 8080: { mode: "DISABLE" } } }),
  ];
  const ls = listenersFor(objects);
  assert.deepEqual([...ls.keys()], ["http_proxy", "inbound|8080", "inbound|9080"]);
  assertStrict(ls.get("inbound|9080")!);
  assertDisable(ls.get("inbound|8080")!);
  const out = ls.get("http_proxy")!;
  assert.equal(out.listener_filters, undefined);
  assert.ok(out.filter_chains!.every((c) => c.transport_socket === undefined && c.filter_chain_match === undefined));
  // Another workload of the namespace is not selected: the mesh's PERMISSIVE.
  const other = proxy("billing", "127.10.1.8", { app: "billing" }, { namespace: "foo", ports: [{ name: "http", containerPort: 8080 }] });
  assertPermissive(inbound(objects, 8080, other));
});

test("the cached listener view keeps the labels PeerAuthentication selectors name, so it translates the same", () => {
  const objects = [peerAuth("finance", "foo", { selector: { matchLabels: { team: "money" } }, mtls: { mode: "STRICT" } })];
  const all = [kubeService("finance", 9080, { namespace: "foo" }), ...objects];
  const input = inputFor(all, [finance], finance);
  const view = listenerView(finance, securityLabelKeys(all));
  assert.deepEqual(view.type === "sidecar" && view.labels, { team: "money" });
  const viaView = translateListeners({ ...input, proxy: view });
  assert.deepEqual(viaView, translateListeners(input));
  assertStrict(viaView.find((l) => l.name === "inbound|9080")!);
});

test("every mode's listeners encode through Envoy's protos, decode unchanged, and the proxy picks the right chain", () => {
  const modes = [
    ["STRICT", { tls: "tls", raw: undefined }],
    ["PERMISSIVE", { tls: "tls", raw: "plaintext" }],
    ["DISABLE", { tls: "plaintext", raw: "plaintext" }],
  ] as const;
  for (const [mode, expected] of modes) {
    const ls = [...listenersFor([peerAuth("default", "foo", { mtls: { mode } })]).values()];
    for (const l of ls) {
      const decoded = decodeResource(encodeResource(TYPE.listener, l)) as Listener;
      assert.deepEqual(decoded, JSON.parse(JSON.stringify(l)), `${mode} ${l.name} survives the round trip`);
    }
    const l = ls.find((x) => x.name === "inbound|9080")!;
    const compiled = compileListener(decodeResource(encodeResource(TYPE.listener, l)) as Listener)!;
    assert.equal(compiled.inspectTls, mode !== "DISABLE", `${mode}: the proxy peeks at the first byte`);
    assert.equal(selectFilterChain(compiled, 9080, "tls")?.name, expected.tls, `${mode}: a TLS connection`);
    assert.equal(selectFilterChain(compiled, 9080, "raw_buffer")?.name, expected.raw, `${mode}: a plaintext connection`);
    const tlsChain = compiled.filterChains.find((c) => c.name === "tls");
    if (mode !== "DISABLE") {
      assert.deepEqual(tlsChain?.tls, { requireClientCert: true, alpn: ["h2", "http/1.1"], minVersion: "TLSv1.2" });
      assert.equal(tlsChain?.transportProtocol, "tls");
    }
  }
});
