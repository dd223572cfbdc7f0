// End to end over real xDS: the control plane's AdsServer -> AdsClient -> this proxy.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { AdsServer } from "../xds/server.ts";
import { TYPE } from "../xds/envoy-types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { RouteConfiguration } from "../xds/envoy-types.ts";
import { startProxy } from "./main.ts";
import { cla, edsCluster, hcmListener, routeConfig, startUpstream, toCluster, viaProxy, vhost } from "./test-kit.ts";

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => { s += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: s }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("the proxy follows the control plane over ADS, and a NACK keeps it serving", async () => {
  const up = await startUpstream("app");
  let route: RouteConfiguration = routeConfig("http_proxy", [vhost("svc", ["svc:80", "svc"], [toCluster("outbound|80||svc")])]);
  const ads = new AdsServer({
    debounceMs: 5,
    resourcesFor: () => new Map<string, Map<string, object>>([
      [TYPE.listener, new Map([["http_proxy", hcmListener("http_proxy", { rds: "http_proxy" })]])],
      [TYPE.route, new Map([["http_proxy", route]])],
      [TYPE.cluster, new Map([["outbound|80||svc", edsCluster("outbound|80||svc")]])],
      [TYPE.endpoint, new Map([["outbound|80||svc", cla("outbound|80||svc", [{ port: up.port }])]])],
    ]),
  });
  const xdsPort = await ads.listen("127.0.0.1", 0);
  const node: ProxyNode = {
    id: "sidecar~127.0.0.1~e2e.default~default.svc.cluster.local", type: "sidecar", ip: "127.0.0.1", name: "e2e", namespace: "default",
    labels: {}, serviceAccount: "default", ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false,
  };
  const proxy = await startProxy({ xds: `127.0.0.1:${xdsPort}`, node, adminAddress: { host: "127.0.0.1", port: 0 } });
  try {
    await until("ready", async () => ((await get(proxy.adminPort, "/ready")).status === 200 ? true : undefined));
    const port = await until("listener port", async () => {
      const m = /^http_proxy::127\.0\.0\.1:(\d+)$/m.exec((await get(proxy.adminPort, "/listeners")).body);
      return m ? Number(m[1]) : undefined;
    });
    const r = await viaProxy(port, "http://svc/hello");
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).id, "app");

    route = routeConfig("http_proxy", [vhost("svc", ["svc"], [{ match: { safe_regex: { regex: "(" } }, route: { cluster: "x" } }])]);
    ads.push("bad route");
    const nack = await until("NACK", async () => JSON.parse((await get(proxy.adminPort, "/config_dump")).body).last_nack ?? undefined);
    assert.match(nack.reason, /invalid regex/);
    assert.equal((await viaProxy(port, "http://svc/again")).status, 200);
  } finally {
    await proxy.close();
    await ads.close();
    await up.close();
  }
});
