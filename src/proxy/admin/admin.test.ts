import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { cla, deadPort, edsCluster, feed, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost } from "../test-kit.ts";
import { startAdmin } from "./admin-server.ts";
import { startProxy } from "../main.ts";
import { silentLogger } from "../../log/logger.ts";
import type { ProxyNode } from "../../xds/node.ts";

function get(port: number, path: string, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => { s += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: s }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("admin: /ready, /config_dump, /clusters, /listeners, /stats", async () => {
  const up = await startUpstream("up");
  const plane = await startPlane({});
  const admin = await startAdmin({ state: plane.state, runtimes: plane.runtimes, listeners: plane.listeners, stats: plane.stats, logger: silentLogger, xdsConnected: () => true, quit: () => {} }, "127.0.0.1", 0);
  try {
    const notReady = await get(admin.port, "/ready");
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /listeners \(LDS\)/);

    await feed(plane, {
      clusters: [edsCluster("outbound|80||svc.default.svc.cluster.local")],
      listeners: [hcmListener("http_proxy", { rds: "http_proxy" })],
    }, "v1");
    assert.match((await get(admin.port, "/ready")).body, /route http_proxy \(RDS\), endpoints outbound\|80\|\|svc.default.svc.cluster.local \(EDS\)/);
    await feed(plane, {
      endpoints: [cla("outbound|80||svc.default.svc.cluster.local", [{ port: up.port }])],
      routes: [routeConfig("http_proxy", [vhost("svc", ["svc"], [toCluster("outbound|80||svc.default.svc.cluster.local")])])],
    }, "v2");
    const ready = await get(admin.port, "/ready");
    assert.equal(ready.status, 200);
    assert.equal(ready.body, "LIVE\n");

    await viaProxy(plane.port("http_proxy"), "http://svc/");
    const text = (await get(admin.port, "/clusters")).body;
    const hostKey = `outbound|80||svc.default.svc.cluster.local::127.0.0.1:${up.port}`;
    assert.ok(text.includes(`${hostKey}::rq_total::1\n`), text);
    assert.ok(text.includes(`${hostKey}::health_flags::healthy\n`));
    assert.ok(text.includes(`${hostKey}::cx_active::1\n`), "the kept-alive connection is counted");
    const js = JSON.parse((await get(admin.port, "/clusters?format=json")).body);
    assert.equal(js.cluster_statuses[0].host_statuses[0].address.socket_address.port_value, up.port);

    // A rejected update shows up in /config_dump and /stats.
    await feed(plane, { routes: [routeConfig("http_proxy", [vhost("svc", ["svc"], [{ match: { safe_regex: { regex: "[" } }, route: { cluster: "x" } }])])] }, "v3");
    const dump = JSON.parse((await get(admin.port, "/config_dump")).body);
    const types = dump.configs.map((c: { "@type": string }) => c["@type"].split(".").pop());
    assert.deepEqual(types, ["ListenersConfigDump", "ClustersConfigDump", "RoutesConfigDump", "EndpointsConfigDump"]);
    assert.equal(dump.configs[0].dynamic_listeners[0].name, "http_proxy");
    assert.equal(dump.configs[0].dynamic_listeners[0].active_state.version_info, "v1");
    assert.equal(dump.configs[2].dynamic_route_configs[0].version_info, "v2");
    assert.ok(dump.configs[3].dynamic_endpoint_configs[0].last_updated);
    assert.equal(dump.last_nack.version_info, "v3");
    assert.match(dump.last_nack.reason, /invalid regex/);

    const stats = (await get(admin.port, "/stats")).body;
    assert.match(stats, /^xds\.rds\.update_rejected: 1$/m);
    assert.match(stats, /^xds\.lds\.update_success: 1$/m);
    assert.match(stats, /^downstream_rq_2xx: 1$/m);

    assert.match((await get(admin.port, "/listeners")).body, /^http_proxy::127\.0\.0\.1:\d+$/m);
    assert.equal((await get(admin.port, "/quitquitquit")).status, 405);
  } finally {
    await new Promise<void>((r) => admin.server.close(() => r()));
    await plane.close();
    await up.close();
  }
});

test("startProxy serves admin while the control plane is unreachable and closes cleanly", async () => {
  const node: ProxyNode = {
    id: "sidecar~127.0.0.1~t.default~default.svc.cluster.local", type: "sidecar", ip: "127.0.0.1", name: "t", namespace: "default",
    labels: {}, serviceAccount: "default", ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false,
  };
  const proxy = await startProxy({ xds: `127.0.0.1:${await deadPort()}`, node, adminAddress: { host: "127.0.0.1", port: 0 } });
  try {
    const r = await get(proxy.adminPort, "/ready");
    assert.equal(r.status, 503);
    assert.match((await get(proxy.adminPort, "/stats")).body, /^xds\.connected: 0$/m);
  } finally {
    await proxy.close();
  }
});
