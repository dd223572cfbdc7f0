// Filter chain matching as Envoy narrows it (port, server name, transport, application
// protocol; no fallback to a less specific step), tcp_proxy chains, and the config errors a
// listener with them is NACKed for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE, type FilterChain, type Listener, type NetworkFilter } from "../../xds/envoy-types.ts";
import { compileListener, selectFilterChain } from "./compile-listener.ts";
import type { CompiledListener } from "./types.ts";
import { ConfigInvalid } from "./string-match.ts";

function tcp(cluster: string, extra: Record<string, unknown> = {}): NetworkFilter {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TYPE.tcpProxy, stat_prefix: cluster, cluster, ...extra } as unknown as NetworkFilter["typed_config"] };
}

const hcm: NetworkFilter = {
  name: "envoy.filters.network.http_connection_manager",
  typed_config: { "@type": TYPE.hcm, stat_prefix: "h", route_config: { name: "r", virtual_hosts: [] }, http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }] },
};

function listener(chains: FilterChain[], extra: Partial<Listener> = {}): Listener {
  return { name: "l", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: chains, ...extra };
}

function compile(chains: FilterChain[], extra: Partial<Listener> = {}): CompiledListener {
  return compileListener(listener(chains, extra))!;
}

const named = (l: CompiledListener, ...args: Parameters<typeof selectFilterChain> extends [unknown, ...infer R] ? R : never): string | undefined => selectFilterChain(l, ...args)?.name;

test("server names: exact beats the longest wildcard beats chains naming none; no match with none left", () => {
  const l = compile([
    { name: "exact", filter_chain_match: { server_names: ["api.example.com"] }, filters: [tcp("a")] },
    { name: "wide", filter_chain_match: { server_names: ["*.example.com"] }, filters: [tcp("b")] },
    { name: "narrow", filter_chain_match: { server_names: ["*.eu.example.com"] }, filters: [tcp("c")] },
    { name: "any", filters: [tcp("d")] },
  ]);
  assert.equal(named(l, 0, "raw_buffer", { serverName: "api.example.com" }), "exact");
  assert.equal(named(l, 0, "raw_buffer", { serverName: "x.eu.example.com" }), "narrow");
  assert.equal(named(l, 0, "raw_buffer", { serverName: "a.b.example.com" }), "wide");
  assert.equal(named(l, 0, "raw_buffer", { serverName: "example.com" }), "any", "a wildcard needs a label before its suffix");
  assert.equal(named(l, 0, "raw_buffer", {}), "any");
  const strict = compile([{ name: "only", filter_chain_match: { server_names: ["a.test"] }, filters: [tcp("a")] }]);
  assert.equal(named(strict, 0, "raw_buffer", { serverName: "b.test" }), undefined);
  assert.equal(named(strict, 0, "raw_buffer", {}), undefined);
});

test("no fallback across steps: the server name's chains decide even when another transport would match elsewhere", () => {
  const l = compile([
    { name: "sni-tls", filter_chain_match: { server_names: ["a.test"], transport_protocol: "tls" }, filters: [tcp("a")] },
    { name: "any", filters: [tcp("b")] },
  ]);
  assert.equal(named(l, 0, "tls", { serverName: "a.test" }), "sni-tls");
  assert.equal(named(l, 0, "raw_buffer", { serverName: "a.test" }), undefined, "a.test picked its chain set; plaintext has none there");
  assert.equal(named(l, 0, "raw_buffer", { serverName: "other" }), "any");
});

test("application protocols: the chain listing it, else chains listing none; HTTP callers keep the HTTP chain", () => {
  const l = compile([
    { name: "http", filter_chain_match: { application_protocols: ["http/1.1", "h2c"] }, filters: [hcm] },
    { name: "tcp", filters: [tcp("t")] },
  ], { listener_filters: [{ name: "envoy.filters.listener.http_inspector", typed_config: { "@type": TYPE.httpInspector } }] });
  assert.equal(named(l, 0, "raw_buffer", { applicationProtocol: "h2c" }), "http");
  assert.equal(named(l, 0, "raw_buffer", {}), "tcp");
  assert.equal(named(l, 0, "raw_buffer"), "http", "the default criteria are an HTTP connection's (request handler, TLS stage)");
  assert.equal(l.inspectHttp, true);
  assert.equal(l.chainPerConnection, true);
  assert.equal(l.listenerFiltersTimeoutMs, 15_000, "Envoy's default listener_filters_timeout");
  assert.equal(l.continueOnListenerFiltersTimeout, false);
});

test("tcp_proxy compiles with its clusters, idle timeout and connect attempts; bind_to_port and use_original_dst are kept", () => {
  const l = compile([{ filters: [tcp("ignored", { cluster: undefined, weighted_clusters: { clusters: [{ name: "x", weight: 3 }, { name: "y", weight: 1 }] }, idle_timeout: { seconds: 30 }, max_connect_attempts: { value: 2 } })] }], { bind_to_port: { value: false }, use_original_dst: { value: true } });
  const p = l.filterChains[0]!.tcpProxy!;
  assert.deepEqual(p.clusters, [{ cluster: "x", weight: 3 }, { cluster: "y", weight: 1 }]);
  assert.equal(p.totalWeight, 4);
  assert.equal(p.idleTimeoutMs, 30_000);
  assert.equal(p.maxConnectAttempts, 2);
  assert.equal(l.bindToPort, false);
  assert.equal(l.useOriginalDst, true);
  assert.notEqual(l.bindKey, "127.0.0.1:0", "a virtual listener never takes a real listener's bind");
  assert.equal(compile([{ filters: [tcp("c")] }]).filterChains[0]!.tcpProxy!.idleTimeoutMs, 3_600_000, "Envoy's default: one hour");
});

test("listeners Envoy would refuse, or the proxy could not honour, are NACKed with the field", () => {
  const cases: [string, Listener, RegExp][] = [
    ["hcm and tcp_proxy in one chain", listener([{ filters: [hcm, tcp("a")] }]), /filter_chains\[0\]\.filters: a chain ends in one terminal filter/],
    ["tcp_proxy without a cluster", listener([{ filters: [tcp("a", { cluster: undefined })] }]), /filters\[0\]\.typed_config: tcp_proxy needs cluster or weighted_clusters/],
    ["a zero weight", listener([{ filters: [tcp("a", { cluster: undefined, weighted_clusters: { clusters: [{ name: "x", weight: 0 }] } })] }]), /weighted_clusters\.clusters\[0\]\.weight: weight must be a whole number >= 1/],
    ["subset metadata", listener([{ filters: [tcp("a", { metadata_match: { filter_metadata: {} } })] }]), /typed_config\.metadata_match: tcp_proxy metadata_match is not supported/],
    ["network RBAC before an HTTP connection manager", listener([{ filters: [{ name: "envoy.filters.network.rbac", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC" } } as unknown as NetworkFilter, hcm] }]), /filters\[0\]: network RBAC is supported before a tcp_proxy only/],
    ["network RBAC with the HTTP filter's type", listener([{ filters: [{ name: "envoy.filters.network.rbac", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC" } } as unknown as NetworkFilter, tcp("a")] }]), /filters\[0\]\.typed_config\["@type"\]: expected type\.googleapis\.com\/envoy\.extensions\.filters\.network\.rbac\.v3\.RBAC/],
    ["a bad server name", listener([{ filter_chain_match: { server_names: ["a.*.com"] }, filters: [tcp("a")] }]), /server_names\[0\]: "a\.\*\.com" is not a server name/],
    ["http/1.1 without http_inspector", listener([{ filter_chain_match: { application_protocols: ["http/1.1"] }, filters: [hcm] }]), /application_protocols: matching http\/1\.1 or h2c needs the http_inspector listener filter/],
    ["an empty upgrade type", listener([{ filters: [{ ...hcm, typed_config: { ...hcm.typed_config, upgrade_configs: [{ upgrade_type: "" }] } }] }]), /upgrade_configs\[0\]\.upgrade_type: upgrade_type is empty/],
  ];
  for (const [what, l, want] of cases) {
    assert.throws(() => compileListener(l), (err: unknown) => err instanceof ConfigInvalid && want.test(err.message), what);
  }
});

test("upgrade_configs: enabled types, lower case; a disabled one is not proxied", () => {
  const l = compile([{ filters: [{ ...hcm, typed_config: { ...hcm.typed_config, upgrade_configs: [{ upgrade_type: "WebSocket" }, { upgrade_type: "spdy/3", enabled: { value: false } }] } }] }]);
  assert.deepEqual([...l.filterChains[0]!.hcm!.upgradeTypes!], ["websocket"]);
  assert.equal(compile([{ filters: [hcm] }]).filterChains[0]!.hcm!.upgradeTypes, undefined);
});
