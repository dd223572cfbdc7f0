// Test support: build a TranslateInput from fixtures, and look up a virtual host by name.
// Not used by production code. Which route a request takes is simulated by the proxy's own
// matcher in test/simulation/simulate.ts, never re-implemented here.
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { RouteConfiguration, VirtualHost } from "../xds/envoy-types.ts";
import { buildRegistry } from "../registry/build.ts";
import type { TranslateInput } from "./input.ts";
import { DEFAULT_MESH_CONFIG } from "./mesh-config.ts";

export function inputFor(objects: ConfigObject[], proxies: ProxyNode[], proxy: ProxyNode): TranslateInput {
  return { objects, registry: buildRegistry(objects, proxies), proxy, mesh: DEFAULT_MESH_CONFIG };
}

/** The virtual host with this name (e.g. "reviews.default.svc.cluster.local:9080"); fails the test when absent. */
export function virtualHostNamed(rc: RouteConfiguration, name: string): VirtualHost {
  const vh = rc.virtual_hosts.find((v) => v.name === name);
  assert.ok(vh, `no virtual host "${name}" in route configuration "${rc.name}" (has: ${rc.virtual_hosts.map((v) => v.name).join(", ")})`);
  return vh;
}
