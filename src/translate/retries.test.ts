// Istio's retry translation: defaults, attempts 0, status codes moved out of retryOn, gRPC and
// 4xx conditions kept for Envoy, and retryRemoteLocalities as Envoy's previous_priorities.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultRetryPolicy, retryPolicy } from "./retries.ts";
import { encodeResource, decodeResource } from "../xds/protos.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { compileRetryPolicy } from "../proxy/state/compile-retry.ts";
import { RETRY } from "../proxy/state/types.ts";

test("no retries block: Istio's defaults; attempts 0: none", () => {
  assert.deepEqual(retryPolicy(undefined), defaultRetryPolicy());
  assert.equal(retryPolicy({ attempts: 0 }), undefined);
});

test("retryOn: status codes become retriable_status_codes; gRPC and retriable-4xx conditions compile", () => {
  const p = retryPolicy({ attempts: 3, perTryTimeout: "2s", retryOn: "5xx,retriable-4xx,503,deadline-exceeded,resource-exhausted,internal" })!;
  assert.equal(p.retry_on, "5xx,retriable-4xx,deadline-exceeded,resource-exhausted,internal,retriable-status-codes");
  assert.deepEqual(p.retriable_status_codes, [503]);
  const c = compileRetryPolicy(p, "route")!;
  assert.ok(c.on & RETRY.retriable4xx && c.on & RETRY.fiveXx && c.on & RETRY.grpc && c.on & RETRY.retriableStatusCodes);
  assert.deepEqual([...c.grpcStatuses].sort(), ["13", "4", "8"]);
  assert.equal(c.perTryTimeoutMs, 2000);
  assert.equal(c.numRetries, 3);
});

test("retryRemoteLocalities: previous_priorities, which encodes in a real RouteConfiguration", () => {
  const p = retryPolicy({ attempts: 2, retryRemoteLocalities: true })!;
  assert.equal(p.retry_priority?.name, "envoy.retry_priorities.previous_priorities");
  const rc = { name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "c", retry_policy: p } }] }] };
  const back = decodeResource(encodeResource(TYPE.route, rc));
  assert.equal(back.virtual_hosts[0].routes[0].route.retry_policy.retry_priority.typed_config.update_frequency, 2);
  assert.equal(compileRetryPolicy(p, "route")!.otherPriorities, true);
  assert.equal(compileRetryPolicy(retryPolicy({ attempts: 2 }), "route")!.otherPriorities, false);
});
