// A DestinationRule's traffic policy, through the real translator and the xDS wire, becomes
// what the proxy compiles for the cluster: balancer, circuit breakers, outlier detection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies } from "../../src/registry/fixtures.ts";
import { simulate } from "./simulate.ts";
import { BOOKINFO_SERVICES, bookinfo, REVIEWS } from "./bookinfo.ts";

const RULE = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
    connectionPool:
      tcp:
        maxConnections: 7
      http:
        http1MaxPendingRequests: 3
        http2MaxRequests: 20
        maxRequestsPerConnection: 4
        idleTimeout: 2s
    outlierDetection:
      consecutive5xxErrors: 4
      interval: 500ms
      baseEjectionTime: 15s
      maxEjectionPercent: 60
  subsets:
  - name: v1
    labels:
      version: v1
    trafficPolicy:
      loadBalancer:
        simple: RANDOM
`;

test("a DestinationRule's connection pool, outlier detection and balancer reach the proxy's compiled cluster", () => {
  // This rule replaces Bookinfo's own reviews rule.
  const sim = simulate({ config: `${BOOKINFO_SERVICES}---${RULE}`, proxies: bookinfoProxies(), proxy: "productpage-v1" });
  const c = sim.snapshot.clusters.get(`outbound|9080||${REVIEWS}`);
  assert.ok(c);
  assert.equal(c.lbPolicy, "LEAST_REQUEST");
  assert.deepEqual(c.circuitBreakers, { maxConnections: 7, maxPendingRequests: 3, maxRequests: 20, maxRetries: Infinity });
  assert.equal(c.maxRequestsPerConnection, 4);
  assert.equal(c.idleTimeoutMs, 2000);
  const od = c.outlierDetection;
  assert.ok(od);
  assert.deepEqual({ ...od, key: undefined }, {
    consecutive5xx: 4,
    consecutiveGatewayFailure: 0,
    intervalMs: 500,
    baseEjectionMs: 15_000,
    maxEjectionMs: 300_000,
    maxEjectionPercent: 60,
    key: undefined,
  });
  // The subset's own loadBalancer replaces the top-level one; the rest is inherited.
  const v1 = sim.snapshot.clusters.get(`outbound|9080|v1|${REVIEWS}`);
  assert.equal(v1?.lbPolicy, "RANDOM");
  assert.equal(v1?.circuitBreakers?.maxRequests, 20);
});

test("without a DestinationRule a cluster is round robin with no circuit breaker and no outlier detection", () => {
  const sim = simulate({ config: bookinfo(), proxies: bookinfoProxies(), proxy: "productpage-v1" });
  const c = sim.snapshot.clusters.get(`outbound|9080||${REVIEWS}`);
  assert.equal(c?.lbPolicy, "ROUND_ROBIN");
  assert.equal(c?.circuitBreakers, undefined, "Istio's 2^32-1 defaults mean nothing is checked per request");
  assert.equal(c?.outlierDetection, undefined);
});
