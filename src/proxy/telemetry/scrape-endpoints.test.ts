// A started sidecar serves /stats/prometheus on its metrics address (podIP:15090 by default)
// and on its admin port, even before the control plane answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startProxy } from "../main.ts";
import { deadPort } from "../test-kit.ts";
import type { ProxyNode } from "../../xds/node.ts";

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("scrape timed out")));
    req.on("error", reject);
  });
}

test("the sidecar's metrics port and admin port both serve the Prometheus page", async () => {
  const node: ProxyNode = { id: "sidecar~127.0.0.1~ratings-v1.default~default.svc.cluster.local", type: "sidecar", ip: "127.0.0.1", name: "ratings-v1", namespace: "default", labels: { app: "ratings" }, serviceAccount: "ratings", ports: [], appAddress: "127.0.0.1", interceptionMode: "NONE", autoRegister: false };
  const proxy = await startProxy({ xds: `127.0.0.1:${await deadPort()}`, node, adminAddress: { host: "127.0.0.1", port: 0 }, metricsAddress: { host: "127.0.0.1", port: 0 } });
  try {
    assert.ok(proxy.metricsPort, "metrics port bound");
    const scrape = await get(proxy.metricsPort, "/stats/prometheus");
    assert.equal(scrape.status, 200);
    assert.match(scrape.type, /^text\/plain; version=0\.0\.4/);
    assert.match(scrape.body, /^# TYPE istio_requests_total counter$/m);
    assert.match(scrape.body, /^# TYPE istio_request_duration_milliseconds histogram$/m);
    assert.match(scrape.body, /^mizzen_istio_metrics_dropped_total 0$/m);
    const admin = await get(proxy.adminPort, "/stats/prometheus");
    assert.equal(admin.status, 200);
    assert.match(admin.body, /^# TYPE istio_response_bytes histogram$/m);
    assert.equal((await get(proxy.metricsPort, "/config_dump")).status, 404, "the metrics port serves metrics only");
  } finally {
    await proxy.close();
  }
});
