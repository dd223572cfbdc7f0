// TCP, TLS passthrough and protocol detection in LDS: the listeners go through the real Envoy
// protos (encode, decode) and the proxy's own compiler, and the chain a connection would get
// is asked of the proxy's own filter chain matcher, never re-implemented here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, kubeService, proxy } from "../registry/fixtures.ts";
import { translateListeners } from "./listeners.ts";
import { inputFor } from "./test-support.ts";
import { TYPE, type Listener, type TcpProxy } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { compileListener, selectFilterChain, type ChainCriteria } from "../proxy/state/compile-listener.ts";
import type { CompiledFilterChain, CompiledListener } from "../proxy/state/types.ts";
import type { ConfigObject } from "../api/types.ts";

const CLIENT = proxy("client", "127.10.1.1", { app: "client" });

function listeners(objects: ConfigObject[], p = CLIENT): Listener[] {
  return translateListeners(inputFor(objects, [p], p));
}

/** Through the wire format and the proxy's compiler, as a sidecar would see it. */
function compiled(l: Listener): CompiledListener {
  const back = decodeResource(encodeResource(TYPE.listener, l)) as Listener;
  const c = compileListener(back);
  assert.ok(c, `listener ${l.name} compiles`);
  return c;
}

function chainFor(l: CompiledListener, port: number, transport: "tls" | "raw_buffer", c: ChainCriteria): CompiledFilterChain | undefined {
  return selectFilterChain(l, port, transport, c);
}

const fqdn = (n: string) => `${n}.default.svc.cluster.local`;

test("a TCP service port gets a virtual outbound listener whose chain names the service and splits by the tcp route's weights", () => {
  const objects = [
    cfg("Service", "echo", { selector: { app: "echo" }, ports: [{ name: "tcp-echo", port: 9000 }] }),
    cfg("DestinationRule", "echo", { host: "echo", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] }),
    cfg("VirtualService", "echo", { hosts: ["echo"], tcp: [{ match: [{ port: 9000 }], route: [{ destination: { host: "echo", subset: "v1" }, weight: 80 }, { destination: { host: "echo", subset: "v2" }, weight: 20 }] }] }),
  ];
  const ls = listeners(objects);
  const virtual = ls.find((l) => l.name === "0.0.0.0_9000");
  assert.ok(virtual, `listeners: ${ls.map((l) => l.name).join(", ")}`);
  assert.deepEqual(virtual.bind_to_port, { value: false });
  assert.equal(virtual.listener_filters, undefined, "TCP alone needs no inspection: server-first protocols go at once");
  const out = ls.find((l) => l.name === "http_proxy")!;
  assert.deepEqual(out.use_original_dst, { value: true });

  const c = compiled(virtual);
  assert.equal(c.bindToPort, false);
  assert.equal(c.chainPerConnection, true);
  for (const name of [fqdn("echo"), "echo", "echo.default"]) {
    const chain = chainFor(c, 9000, "raw_buffer", { serverName: name });
    assert.deepEqual(chain?.tcpProxy?.clusters, [{ cluster: `outbound|9000|v1|${fqdn("echo")}`, weight: 80 }, { cluster: `outbound|9000|v2|${fqdn("echo")}`, weight: 20 }], name);
    assert.equal(chain?.tcpProxy?.totalWeight, 100);
  }
  assert.equal(chainFor(c, 9000, "raw_buffer", { serverName: "other.example.com" }), undefined, "another host on the same port is not this service");
});

test("a TCP service without routes goes to its own cluster; an HTTP service gets no virtual listener", () => {
  const objects = [
    cfg("Service", "db", { selector: { app: "db" }, ports: [{ name: "mysql", port: 3306 }] }),
    kubeService("web", 8080),
  ];
  const ls = listeners(objects);
  assert.deepEqual(ls.map((l) => l.name), ["0.0.0.0_3306", "http_proxy"]);
  const chain = chainFor(compiled(ls[0]!), 3306, "raw_buffer", { serverName: fqdn("db") });
  assert.deepEqual(chain?.tcpProxy?.clusters, [{ cluster: `outbound|3306||${fqdn("db")}`, weight: 1 }]);
  assert.equal(chain?.tcpProxy?.statPrefix, `outbound|3306||${fqdn("db")}`);
});

test("TLS passthrough: one chain per sniHosts match, the route's destination, no termination", () => {
  const objects = [
    cfg("ServiceEntry", "external", { hosts: ["a.example.com", "b.example.com"], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 443, name: "tls", protocol: "TLS" }] }),
    cfg("VirtualService", "by-sni", { hosts: ["a.example.com", "b.example.com"], tls: [
      { match: [{ port: 443, sniHosts: ["a.example.com"] }], route: [{ destination: { host: "a.example.com", port: { number: 443 } } }] },
      { match: [{ port: 443, sniHosts: ["b.example.com"] }], route: [{ destination: { host: "b.example.com", port: { number: 443 } } }] },
    ] }),
  ];
  const virtual = listeners(objects).find((l) => l.name === "0.0.0.0_443")!;
  assert.deepEqual(virtual.listener_filters?.map((f) => f.name), ["envoy.filters.listener.tls_inspector"]);
  const c = compiled(virtual);
  for (const h of ["a.example.com", "b.example.com"]) {
    const chain = chainFor(c, 443, "tls", { serverName: h });
    assert.equal(chain?.tls, undefined, "passthrough: the sidecar does not terminate TLS");
    assert.deepEqual(chain?.tcpProxy?.clusters.map((x) => x.cluster), [`outbound|443||${h}`], h);
  }
  assert.equal(chainFor(c, 443, "raw_buffer", { serverName: "a.example.com" }), undefined, "plaintext is not taken by a TLS chain");
  assert.equal(chainFor(c, 443, "tls", { serverName: "c.example.com" }), undefined);
});

test("a TLS port without a VirtualService routes its own names (SNI or the tunnel's host) to its cluster", () => {
  const objects = [cfg("Service", "secure", { selector: { app: "secure" }, ports: [{ name: "https", port: 8443 }] })];
  const c = compiled(listeners(objects).find((l) => l.name === "0.0.0.0_8443")!);
  assert.deepEqual(chainFor(c, 8443, "tls", { serverName: "secure" })?.tcpProxy?.clusters.map((x) => x.cluster), [`outbound|8443||${fqdn("secure")}`]);
});

test("an unnamed port is auto-detected: HTTP goes to the route table, anything else (or silence) to tcp_proxy", () => {
  const objects = [cfg("Service", "banner", { selector: { app: "banner" }, ports: [{ port: 7000 }] })];
  const virtual = listeners(objects).find((l) => l.name === "0.0.0.0_7000")!;
  assert.deepEqual(virtual.listener_filters?.map((f) => f.name), ["envoy.filters.listener.http_inspector"]);
  assert.deepEqual(virtual.listener_filters_timeout, { seconds: 0, nanos: 100_000_000 });
  assert.equal(virtual.continue_on_listener_filters_timeout, true);
  const c = compiled(virtual);
  assert.equal(c.inspectHttp, true);
  assert.equal(c.listenerFiltersTimeoutMs, 100);
  assert.equal(c.continueOnListenerFiltersTimeout, true);
  const http = chainFor(c, 7000, "raw_buffer", { serverName: "banner", applicationProtocol: "http/1.1" });
  assert.equal(http?.hcm?.rdsName, "http_proxy");
  assert.ok(http?.hcm?.upgradeTypes?.has("websocket"));
  const tcp = chainFor(c, 7000, "raw_buffer", { serverName: "banner" });
  assert.deepEqual(tcp?.tcpProxy?.clusters.map((x) => x.cluster), [`outbound|7000||${fqdn("banner")}`]);
});

test("inbound: a tcp port is a tcp_proxy to the application under every mTLS mode; unnamed ports sniff", () => {
  const p = proxy("db", "127.10.1.5", { app: "db" }, { ports: [{ name: "tcp", containerPort: 5432, protocol: "TCP" }, { name: "", containerPort: 7000, protocol: "TCP" }, { name: "http", containerPort: 8080, protocol: "TCP" }] });
  for (const mode of ["STRICT", "PERMISSIVE", "DISABLE"] as const) {
    const objects = [cfg("PeerAuthentication", "default", { mtls: { mode } }, { namespace: "istio-system" })];
    const ls = listeners(objects, p);
    const tcp = compiled(ls.find((l) => l.name === "inbound|5432")!);
    assert.equal(tcp.chainPerConnection, true);
    for (const transport of mode === "STRICT" ? ["tls"] as const : mode === "DISABLE" ? ["raw_buffer"] as const : ["tls", "raw_buffer"] as const) {
      const chain = chainFor(tcp, 5432, transport, {});
      assert.deepEqual(chain?.tcpProxy?.clusters, [{ cluster: "inbound|5432||", weight: 1 }], `${mode} ${transport}`);
      assert.equal(chain?.tls !== undefined, transport === "tls", `${mode} ${transport}: mTLS terminated by the same stage as HTTP`);
    }
    if (mode === "STRICT") assert.equal(chainFor(tcp, 5432, "raw_buffer", {}), undefined, "STRICT refuses plaintext TCP");
    const auto = compiled(ls.find((l) => l.name === "inbound|7000")!);
    assert.equal(auto.inspectHttp, true, mode);
    const t = mode === "STRICT" ? "tls" : "raw_buffer";
    assert.ok(chainFor(auto, 7000, t, { applicationProtocol: "http/1.1" })?.hcm, `${mode}: HTTP chain`);
    assert.ok(chainFor(auto, 7000, t, {})?.tcpProxy, `${mode}: TCP chain when the bytes are not HTTP`);
    const http = compiled(ls.find((l) => l.name === "inbound|8080")!);
    assert.equal(http.chainPerConnection, undefined, "an HTTP port keeps the plain HTTP path");
    assert.ok(http.filterChains.every((fc) => fc.hcm?.upgradeTypes?.has("websocket")));
  }
});

test("inbound TCP under an AuthorizationPolicy: network RBAC before the tcp_proxy, as Istio; HTTP-only fields never match a connection", () => {
  const p = proxy("db", "127.10.1.5", { app: "db" }, { ports: [{ name: "tcp", containerPort: 5432 }] });
  const objects = [
    cfg("AuthorizationPolicy", "allow", { selector: { matchLabels: { app: "db" } }, action: "ALLOW", rules: [
      { from: [{ source: { principals: ["cluster.local/ns/default/sa/client"] } }], to: [{ operation: { ports: ["5432"] } }] },
      { from: [{ source: { principals: ["cluster.local/ns/default/sa/web"] } }], to: [{ operation: { methods: ["GET"] } }] },
    ] }),
    cfg("AuthorizationPolicy", "deny", { selector: { matchLabels: { app: "db" } }, action: "DENY", rules: [
      { from: [{ source: { namespaces: ["legacy"] } }], to: [{ operation: { paths: ["/admin"] } }] },
    ] }),
  ];
  const l = listeners(objects, p).find((x) => x.name === "inbound|5432")!;
  const filters = l.filter_chains![0]!.filters;
  assert.deepEqual(filters.map((f) => f.name), ["envoy.filters.network.rbac", "envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"], "DENY before ALLOW, both before the tcp_proxy");
  const tcp = filters[2]!.typed_config as unknown as TcpProxy;
  assert.equal(tcp.cluster, "inbound|5432||");
  const [deny, allow] = filters.map((f) => f.typed_config as unknown as { stat_prefix: string; rules: { action?: string; policies: Record<string, { principals: unknown[]; permissions: unknown[] }> } });
  assert.equal(allow!.stat_prefix, "tcp.");
  assert.deepEqual(Object.keys(allow!.rules.policies), ["ns[default]-policy[allow]-rule[0]"], "the ALLOW rule that needs a method is dropped: it allows less");
  assert.deepEqual(Object.keys(deny!.rules.policies), ["ns[default]-policy[deny]-rule[0]"], "the DENY rule ignores its path: it denies all of namespace legacy");
  assert.deepEqual(deny!.rules.policies["ns[default]-policy[deny]-rule[0]"]!.permissions, [{ and_rules: { rules: [{ any: true }] } }]);
  // The proxy compiles what the control plane sends, through the real protos.
  const chain = chainFor(compiled(l), 5432, "raw_buffer", {});
  assert.equal(chain?.tcpProxy?.rbac?.length, 2);
});

test("sourceLabels and sourceNamespace narrow tcp routes", () => {
  const objects = [
    cfg("Service", "echo", { selector: { app: "echo" }, ports: [{ name: "tcp", port: 9000 }] }),
    cfg("VirtualService", "echo", { hosts: ["echo"], tcp: [
      { match: [{ sourceLabels: { app: "canary-client" } }], route: [{ destination: { host: "echo", subset: "v2" } }] },
      { match: [{ sourceNamespace: "other" }], route: [{ destination: { host: "echo", subset: "v3" } }] },
      { route: [{ destination: { host: "echo", subset: "v1" } }] },
    ] }),
  ];
  const pick = (p: typeof CLIENT) => {
    const c = compiled(listeners(objects, p).find((l) => l.name === "0.0.0.0_9000")!);
    return chainFor(c, 9000, "raw_buffer", { serverName: fqdn("echo") })?.tcpProxy?.clusters[0]?.cluster;
  };
  assert.equal(pick(CLIENT), `outbound|9000|v1|${fqdn("echo")}`);
  assert.equal(pick(proxy("c2", "127.10.1.2", { app: "canary-client" })), `outbound|9000|v2|${fqdn("echo")}`);
  assert.equal(pick(proxy("c3", "127.10.1.3", { app: "x" }, { namespace: "other" })), `outbound|9000|v3|${fqdn("echo")}`);
});
