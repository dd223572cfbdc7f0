import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSummary } from "./summary.ts";

test("the summary lists the registry's services and shows a real URL to try", () => {
  const text = formatSummary({
    dir: "/mesh",
    xdsAddress: "127.0.0.1:15010",
    debugAddress: "127.0.0.1:15014",
    pods: [{ podName: "web", namespace: "default", labels: { app: "web" }, podIp: "127.10.1.1", appAddress: "127.10.2.1", ports: [{ name: "http", port: 8000 }] }],
    services: [{ hostname: "web.default.svc.cluster.local", aliases: ["web", "web.default"], ports: [{ number: 80 }] }, { hostname: "api.example.com", aliases: [], ports: [{ number: 8443 }] }],
  });
  assert.match(text, /services: http:\/\/web\/  http:\/\/api\.example\.com:8443\//);
  assert.match(text, /curl -x http:\/\/127\.10\.1\.1:15001 http:\/\/web\/ /);
});
