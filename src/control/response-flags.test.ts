import { test } from "node:test";
import assert from "node:assert/strict";
import { explainFailure } from "./response-flags.ts";

test("each flag of a list is explained; RBAC and JWT denials by their details", () => {
  const lines = explainFailure("UF,URX");
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^UF: connecting to the upstream failed/);
  assert.match(lines[1], /^URX: retries were exhausted/);
  assert.match(explainFailure("-", "rbac_access_denied_matched_policy[none]")[0], /AuthorizationPolicy denied/);
  assert.match(explainFailure("-", "jwt_authn_access_denied{Jwt is expired}")[0], /invalid JWT/);
  assert.match(explainFailure("-", "via_upstream")[0], /the application answered this status itself/, "an application's own 500 is said to be the application's");
});
