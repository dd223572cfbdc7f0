// Fault and CORS through real sockets: a data plane fed Envoy resources as Istio writes them
// (filters in the HCM, configs per route), a real upstream, requests from a proxy-style client.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { cla, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../../test-kit.ts";
import type { DataPlane } from "../../main.ts";
import type { Listener, Route } from "../../../xds/envoy-types.ts";
import { FAULT_FILTER_NAME, FAULT_TYPE_URL } from "./fault.ts";
import { CORS_FILTER_NAME, CORS_POLICY_TYPE_URL, CORS_TYPE_URL } from "./cors.ts";

let upstream: Upstream;
let upstreamCalls = 0;
let plane: DataPlane & { port(l: string): number };
let port: number;
let plainPort: number;
const log: string[] = [];

/** A listener whose HCM runs fault and CORS before the router, as Istio's sidecar does. */
function withFilters(l: Listener): Listener {
  l.filter_chains![0].filters[0].typed_config.http_filters.unshift(
    { name: FAULT_FILTER_NAME, typed_config: { "@type": FAULT_TYPE_URL } },
    { name: CORS_FILTER_NAME, typed_config: { "@type": CORS_TYPE_URL } },
  );
  return l;
}

function fault(cfg: Record<string, unknown>): Partial<Route> {
  return { typed_per_filter_config: { [FAULT_FILTER_NAME]: { "@type": FAULT_TYPE_URL, ...cfg } } };
}

const ALL = { numerator: 100, denominator: "HUNDRED" };
const cors: Partial<Route> = {
  typed_per_filter_config: {
    [CORS_FILTER_NAME]: {
      "@type": CORS_POLICY_TYPE_URL,
      allow_origin_string_match: [{ exact: "https://example.com" }, { prefix: "https://app." }],
      allow_methods: "GET,POST",
      allow_headers: "x-foo",
      expose_headers: "x-upstream",
      max_age: "3600",
      allow_credentials: { value: true },
      filter_enabled: { default_value: ALL },
    },
  },
};

before(async () => {
  upstream = await startUpstream("up", (req, res) => {
    upstreamCalls++;
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "x-upstream": "up", "content-type": "text/plain" });
      res.end(`${req.method} ${req.url}`);
    });
  });
  const routes = [
    toCluster("up", "/abort", fault({ abort: { http_status: 503, percentage: ALL } })),
    toCluster("up", "/half", fault({ abort: { http_status: 429, percentage: { numerator: 500_000, denominator: "MILLION" } } })),
    toCluster("up", "/grpc", fault({ abort: { grpc_status: 14, percentage: ALL } })),
    toCluster("up", "/delay", fault({ delay: { fixed_delay: { nanos: 50_000_000 }, percentage: ALL } })),
    toCluster("up", "/cors", cors),
    toCluster("up", "/"),
  ];
  plane = await startPlane({
    clusters: [edsCluster("up")],
    endpoints: [cla("up", [{ port: upstream.port }])],
    listeners: [withFilters(hcmListener("p", { rds: "p", accessLog: true })), hcmListener("plain", { rds: "p", accessLog: true })],
    routes: [routeConfig("p", [vhost("all", ["*"], routes)])],
  }, { accessLog: log });
  port = plane.port("p");
  plainPort = plane.port("plain");
});

after(async () => {
  await plane.close();
  await upstream.close();
});

function lineFor(path: string): string {
  const l = log.find((x) => x.includes(` ${path} HTTP/1.1"`));
  assert.ok(l, `access log line for ${path}`);
  return l!;
}

test("abort 100%: the proxy answers the status with 'fault filter abort', flag FI, and the upstream is not called", async () => {
  const before = upstreamCalls;
  const r = await viaProxy(port, "http://svc/abort");
  assert.equal(r.status, 503);
  assert.equal(r.body, "fault filter abort");
  assert.equal(upstreamCalls, before);
  assert.match(lineFor("/abort"), /" 503 FI fault_filter_abort /);
});

test("abort 50%: about half of 400 requests are aborted (wide tolerance)", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    let aborted = 0, passed = 0;
    for (let batch = 0; batch < 50; batch++) {
      const replies = await Promise.all(Array.from({ length: 8 }, () => viaProxy(port, "http://svc/half", { agent })));
      for (const r of replies) {
        if (r.status === 429) aborted++;
        else if (r.status === 200) passed++;
      }
    }
    assert.equal(aborted + passed, 400);
    // Binomial(400, 0.5): mean 200, sd 10; 120..280 is eight standard deviations each way.
    assert.ok(aborted > 120 && aborted < 280, `aborted ${aborted} of 400`);
  } finally {
    agent.destroy();
  }
});

test("a gRPC request gets a trailers-only answer with the configured grpc-status", async () => {
  const r = await viaProxy(port, "http://svc/grpc/pkg.Svc/Call", { method: "POST", headers: { "content-type": "application/grpc" }, body: "" });
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-type"], "application/grpc");
  assert.equal(r.headers["grpc-status"], "14");
  assert.equal(r.headers["grpc-message"], "fault filter abort");
  assert.match(lineFor("/grpc/pkg.Svc/Call"), /" 200 FI fault_filter_abort /);
});

test("delay 100%: the request still reaches the upstream, flagged DI", async () => {
  const r = await viaProxy(port, "http://svc/delay");
  assert.equal(r.status, 200);
  assert.equal(r.body, "GET /delay");
  assert.match(lineFor("/delay"), /" 200 DI via_upstream /);
});

test("a listener whose HCM lacks the fault filter ignores the route's HTTPFault", async () => {
  const r = await viaProxy(plainPort, "http://svc/abort?plain=1");
  assert.equal(r.status, 200);
  assert.equal(r.headers["x-upstream"], "up");
});

test("CORS preflight from an allowed origin is answered at the proxy, not forwarded", async () => {
  const before = upstreamCalls;
  const r = await viaProxy(port, "http://svc/cors", { method: "OPTIONS", headers: { origin: "https://app.example.net", "access-control-request-method": "POST" } });
  assert.equal(r.status, 200);
  assert.equal(upstreamCalls, before, "the upstream never sees an answered preflight");
  assert.equal(r.headers["access-control-allow-origin"], "https://app.example.net");
  assert.equal(r.headers["access-control-allow-methods"], "GET,POST");
  assert.equal(r.headers["access-control-allow-headers"], "x-foo");
  assert.equal(r.headers["access-control-max-age"], "3600");
  assert.equal(r.headers["access-control-allow-credentials"], "true");
  assert.match(lineFor("/cors"), /"OPTIONS \/cors HTTP\/1.1" 200 - cors_response /);
});

test("CORS preflight from another origin is forwarded untouched (forward_not_matching_preflights defaults to true)", async () => {
  const before = upstreamCalls;
  const r = await viaProxy(port, "http://svc/cors?other", { method: "OPTIONS", headers: { origin: "https://evil.test", "access-control-request-method": "POST" } });
  assert.equal(r.status, 200);
  assert.equal(upstreamCalls, before + 1);
  assert.equal(r.body, "OPTIONS /cors?other");
  assert.equal(r.headers["access-control-allow-origin"], undefined);
});

test("CORS actual request: an allowed origin gets allow-origin, credentials and expose headers; others get none", async () => {
  const ok = await viaProxy(port, "http://svc/cors?actual", { headers: { origin: "https://example.com" } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, "GET /cors?actual");
  assert.equal(ok.headers["access-control-allow-origin"], "https://example.com");
  assert.equal(ok.headers["access-control-allow-credentials"], "true");
  assert.equal(ok.headers["access-control-expose-headers"], "x-upstream");
  const other = await viaProxy(port, "http://svc/cors?actual", { headers: { origin: "https://example.com.evil.test" } });
  assert.equal(other.status, 200);
  assert.equal(other.headers["access-control-allow-origin"], undefined);
});
