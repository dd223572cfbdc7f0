// Which answers a compiled retry policy retries, condition by condition, as Envoy decides.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { backoffMs, BACKOFF_MAX_MS, retryOnFailure, retryOnResponse } from "./retry-decision.ts";
import { compileRetryPolicy } from "../state/compile-retry.ts";

const policy = (retry_on: string, codes: number[] = []) => compileRetryPolicy({ retry_on, num_retries: { value: 2 }, retriable_status_codes: codes }, "t")!;
const res = (statusCode: number, headers: Record<string, string> = {}) => ({ statusCode, headers }) as unknown as IncomingMessage;

test("each condition retries exactly its answers", () => {
  const cases: [string, number, Record<string, string>, boolean][] = [
    ["5xx", 500, {}, true], ["5xx", 404, {}, false],
    ["gateway-error", 502, {}, true], ["gateway-error", 500, {}, false],
    ["retriable-4xx", 409, {}, true], ["retriable-4xx", 404, {}, false],
    ["retriable-status-codes", 418, {}, true], ["retriable-status-codes", 503, {}, false],
    ["unavailable", 200, { "grpc-status": "14" }, true], ["cancelled", 200, { "grpc-status": "1" }, true],
    ["deadline-exceeded", 200, { "grpc-status": "4" }, true], ["resource-exhausted", 200, { "grpc-status": "8" }, true],
    ["internal", 200, { "grpc-status": "13" }, true], ["unavailable", 200, { "grpc-status": "13" }, false],
  ];
  for (const [on, status, headers, want] of cases) assert.equal(retryOnResponse(policy(on, [418]), res(status, headers)), want, `${on} on ${status} ${JSON.stringify(headers)}`);
});

test("connection failures, resets and timeouts follow Envoy's grouping", () => {
  assert.equal(retryOnFailure(policy("connect-failure"), "connect-failure"), true);
  assert.equal(retryOnFailure(policy("connect-failure"), "reset"), false);
  assert.equal(retryOnFailure(policy("reset"), "reset"), true);
  assert.equal(retryOnFailure(policy("reset"), "connect-failure"), true, "a refused connection is also a reset");
  assert.equal(retryOnFailure(policy("5xx"), "timeout"), true, "5xx covers an upstream that never answered");
  assert.equal(retryOnFailure(policy("retriable-status-codes"), "timeout"), false);
});

test("back-off is jittered below Envoy's 25 ms doubling, capped at 250 ms", () => {
  for (let n = 1; n <= 8; n++) {
    for (let i = 0; i < 200; i++) {
      const ms = backoffMs(n);
      assert.ok(ms >= 0 && ms < Math.min(25 * 2 ** (n - 1), BACKOFF_MAX_MS), `retry ${n}: ${ms}`);
    }
  }
});
