// mizzen control's --outbound-traffic-policy: Istio's two modes, and a one-line fix otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseOutboundTrafficPolicy } from "./control.ts";
import { UserError } from "./user-error.ts";

test("--outbound-traffic-policy takes ALLOW_ANY or REGISTRY_ONLY, in any case", () => {
  assert.equal(parseOutboundTrafficPolicy("ALLOW_ANY"), "ALLOW_ANY");
  assert.equal(parseOutboundTrafficPolicy("registry_only"), "REGISTRY_ONLY");
  assert.throws(() => parseOutboundTrafficPolicy("DENY"), (err: Error) => err instanceof UserError && /ALLOW_ANY .* or REGISTRY_ONLY .*not "DENY"/.test(err.message));
});
