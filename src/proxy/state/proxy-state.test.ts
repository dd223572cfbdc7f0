import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE } from "../../xds/envoy-types.ts";
import { ProxyState } from "./proxy-state.ts";
import { cla, edsCluster, hcmListener, routeConfig, toCluster, vhost } from "../test-kit.ts";

const items = <T extends { name?: string; cluster_name?: string }>(xs: T[]) => xs.map((x) => ({ name: (x.name ?? x.cluster_name)!, resource: x }));

test("LDS then RDS: subscribes to referenced routes, becomes ready when all arrived", async () => {
  const subs: [string, string[]][] = [];
  const s = new ProxyState({ subscribe: (t, n) => subs.push([t, n]) });
  assert.equal(s.initialized, false);
  assert.equal(s.handleResponse(TYPE.cluster, items([edsCluster("c1"), edsCluster("c2", { eds_cluster_config: { eds_config: { ads: {} }, service_name: "svc2" } })]), "v1"), null);
  assert.equal(s.handleResponse(TYPE.listener, items([hcmListener("l1", { rds: "r1" }), hcmListener("l2", { rds: "r2" })]), "v1"), null);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(subs, [[TYPE.endpoint, ["c1", "svc2"]], [TYPE.route, ["r1", "r2"]]]);
  assert.deepEqual(s.missing(), ["route r1 (RDS)", "route r2 (RDS)", "endpoints c1 (EDS)", "endpoints svc2 (EDS)"]);
  s.handleResponse(TYPE.route, items([routeConfig("r1", [vhost("v", ["*"], [toCluster("c1")])])]), "v1");
  s.handleResponse(TYPE.route, items([routeConfig("r2", [vhost("v", ["*"], [toCluster("c2")])])]), "v2");
  s.handleResponse(TYPE.endpoint, items([cla("c1", [{ port: 1000 }]), cla("svc2", [{ port: 2000 }])]), "v1");
  assert.deepEqual(s.missing(), []);
  assert.equal(s.initialized, true);
  // RDS responses carry only what they name: r1 survived the r2 update.
  assert.ok(s.current.listeners.get("l1")!.filterChains[0].hcm!.routes);
  assert.equal(s.current.clusters.get("c2")!.endpoints[0].port, 2000);
});

test("LDS and CDS are the full set: a missing name is removed", () => {
  const s = new ProxyState();
  s.handleResponse(TYPE.cluster, items([edsCluster("a"), edsCluster("b")]), "1");
  s.handleResponse(TYPE.cluster, items([edsCluster("b")]), "2");
  assert.deepEqual([...s.current.clusters.keys()], ["b"]);
});

test("an invalid resource is NACKed with its reason and the previous snapshot stays", () => {
  const s = new ProxyState();
  const good = routeConfig("r", [vhost("v", ["*"], [{ match: { safe_regex: { regex: "/ok/[0-9]+" } }, route: { cluster: "c" } }])]);
  assert.equal(s.handleResponse(TYPE.route, items([good]), "1"), null);
  const before = s.current;
  const bad = routeConfig("r", [vhost("v", ["*"], [{ match: { safe_regex: { regex: "/bad/[0-9+" } }, route: { cluster: "c" } }])]);
  const reason = s.handleResponse(TYPE.route, items([bad]), "2");
  assert.match(reason!, /route_config "r"\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/);
  assert.equal(s.current, before);
  assert.equal(s.lastNack?.version, "2");
  assert.equal(s.counters.rejected.rds, 1);
});

test("validation catches structural mistakes", () => {
  const s = new ProxyState();
  const cases: [string, unknown, RegExp][] = [
    [TYPE.route, routeConfig("r", [vhost("v", ["*"], [{ match: { prefix: "/" }, route: { weighted_clusters: { clusters: [] } } }])]), /weighted_clusters has no clusters/],
    [TYPE.listener, { name: "l", filter_chains: [] }, /no address/],
    [TYPE.listener, { ...hcmListener("l"), filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": TYPE.hcm, stat_prefix: "x", http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }] } }] }] }, /needs rds or route_config/],
    [TYPE.listener, hcmListener("l", { rds: "r" }).filter_chains![0].filters[0].typed_config && { ...hcmListener("l", { rds: "r" }), filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": TYPE.hcm, stat_prefix: "x", rds: { route_config_name: "r", config_source: {} }, http_filters: [{ name: "envoy.filters.http.rbac", typed_config: { "@type": "rbac" } }, { name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }] } }] }] }, /"envoy.filters.http.rbac" is not supported/],
    [TYPE.cluster, { name: "c", type: "MAGIC" }, /type MAGIC is not supported/],
    [TYPE.route, routeConfig("r", [vhost("v", ["a", "a"], [])]), /appears in more than one virtual host/],
  ];
  for (const [t, r, re] of cases) {
    const reason = s.handleResponse(t, [{ name: "x", resource: r }], "1");
    assert.match(reason ?? "(accepted)", re);
  }
  assert.equal(s.current.generation, 0);
});

test("api_listener-only listeners (proxyless gRPC) are accepted and not bound", () => {
  const s = new ProxyState();
  const l = { name: "svc:80", api_listener: { api_listener: hcmListener("x", { rds: "svc:80" }).filter_chains![0].filters[0].typed_config } };
  assert.equal(s.handleResponse(TYPE.listener, [{ name: "svc:80", resource: l }], "1"), null);
  assert.equal(s.current.listeners.size, 0);
});

test("resources survive the protobuf round trip the xDS client does and compile the same", async () => {
  const { encodeResource, decodeResource } = await import("../../xds/protos.ts");
  const rt = <T extends object>(type: string, r: T) => decodeResource(encodeResource(type, r));
  const s = new ProxyState();
  const route = routeConfig("r", [vhost("v", ["svc:80"], [{
    name: "n",
    match: { safe_regex: { regex: "/a/[0-9]+" }, headers: [{ name: "x", string_match: { prefix: "p", ignore_case: true }, invert_match: true }], case_sensitive: { value: false } },
    route: { cluster: "c", timeout: { seconds: 2, nanos: 500_000_000 }, retry_policy: { retry_on: "5xx,unavailable", num_retries: { value: 3 }, per_try_timeout: { nanos: 250_000_000 } } },
  }])]);
  const listener = hcmListener("l", { rds: "r", accessLog: true, port: 15001 });
  assert.equal(s.handleResponse(TYPE.cluster, [{ name: "c", resource: rt(TYPE.cluster, edsCluster("c")) }], "1"), null);
  assert.equal(s.handleResponse(TYPE.endpoint, [{ name: "c", resource: rt(TYPE.endpoint, cla("c", [{ port: 9 }])) }], "1"), null);
  assert.equal(s.handleResponse(TYPE.listener, [{ name: "l", resource: rt(TYPE.listener, listener) }], "1"), null);
  assert.equal(s.handleResponse(TYPE.route, [{ name: "r", resource: rt(TYPE.route, route) }], "1"), null);
  const hcm = s.current.listeners.get("l")!.filterChains[0].hcm!;
  assert.equal(hcm.accessLog?.loggers.length, 1);
  const r = hcm.routes!.findVirtualHost("SVC:80")!.routes[0];
  assert.equal(r.action.kind, "route");
  if (r.action.kind !== "route") return;
  assert.equal(r.action.timeoutMs, 2500);
  assert.equal(r.action.retry?.numRetries, 3);
  assert.equal(r.action.retry?.perTryTimeoutMs, 250);
  assert.ok(r.action.retry!.grpcStatuses.has("14"));
  assert.equal(s.current.clusters.get("c")!.connectTimeoutMs, 1000);
  const input = { method: "GET", authority: "svc:80", path: "/a/12", query: "", headers: { x: "other" }, queryParams: undefined };
  assert.equal(r.matches(input), true);
  assert.equal(r.matches({ ...input, headers: { x: "PREFIXED" } }), false);
});

test("when the last route / EDS name is no longer referenced: unsubscribed ([]) and dropped", async () => {
  const subs: [string, string[]][] = [];
  const s = new ProxyState({ subscribe: (t, n) => subs.push([t, n]) });
  // Nothing referenced yet: no empty subscription goes out.
  s.handleResponse(TYPE.cluster, items([{ name: "static", type: "STATIC", load_assignment: cla("static", [{ port: 1 }]) }]), "0");
  s.handleResponse(TYPE.listener, items([hcmListener("inline", { routeConfig: routeConfig("x", [vhost("v", ["*"], [toCluster("static")])]) })]), "0");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(subs, []);
  s.handleResponse(TYPE.cluster, items([edsCluster("c1")]), "1");
  s.handleResponse(TYPE.listener, items([hcmListener("l1", { rds: "r1" })]), "1");
  s.handleResponse(TYPE.route, items([routeConfig("r1", [vhost("v", ["*"], [toCluster("c1")])])]), "1");
  s.handleResponse(TYPE.endpoint, items([cla("c1", [{ port: 1000 }])]), "1");
  await new Promise((r) => setImmediate(r));
  assert.equal(s.current.routeTables.size, 1);
  s.handleResponse(TYPE.listener, items([]), "2");
  s.handleResponse(TYPE.cluster, items([]), "2");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(subs, [[TYPE.endpoint, ["c1"]], [TYPE.route, ["r1"]], [TYPE.route, []], [TYPE.endpoint, []]]);
  assert.equal(s.current.raw.routes.size, 0, "unreferenced route dropped");
  assert.equal(s.current.raw.endpoints.size, 0, "unreferenced endpoints dropped");
  // Referenced again: subscribed again.
  s.handleResponse(TYPE.listener, items([hcmListener("l1", { rds: "r1" })]), "3");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(subs.at(-1), [TYPE.route, ["r1"]]);
  assert.deepEqual(s.missing(), ["route r1 (RDS)"]);
});
