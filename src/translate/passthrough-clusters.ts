// Istio's two clusters for hosts the registry does not know, and the catch-all virtual host of
// the sidecar's outbound route table that uses them:
//   ALLOW_ANY      "allow_any" (domains "*") routes to PassthroughCluster, an ORIGINAL_DST
//                  cluster: the sidecar connects to the host:port the request names.
//   REGISTRY_ONLY  "block_all" (domains "*") answers 502 itself. BlackHoleCluster, a STATIC
//                  cluster without endpoints, is what Istio's metrics name for it.
// Istio emits BlackHoleCluster always; PassthroughCluster here only under ALLOW_ANY, because
// the sidecar also pipes TLS inside CONNECT tunnels to any host whenever the cluster exists.
import type { Cluster, VirtualHost } from "../xds/envoy-types.ts";
import type { ViewInput } from "./input.ts";
import type { OutboundTrafficMode } from "./mesh-config.ts";
import { sidecarScope, type SidecarScopeProxy } from "./sidecar-scope.ts";
import type { ProxyNode } from "../xds/node.ts";

export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
/** Istio's names for the catch-all virtual host and its one route; Istio's stats read them. */
export const ALLOW_ANY_ROUTE = "allow_any";
export const BLOCK_ALL_ROUTE = "block_all";

/** The body of the 502 a blocked request gets (Envoy sends none; this one says what to do). */
export const BLOCKED_BODY = "upstream host is not in the mesh's service registry and outboundTrafficPolicy is REGISTRY_ONLY (BlackHoleCluster); declare it with a ServiceEntry, or allow it in the Sidecar's egress hosts\n";

const CONNECT_TIMEOUT = { seconds: 10 };
const NO_TIMEOUT = { seconds: 0 };
const UNLIMITED = { value: 4294967295 };

export function passthroughCluster(): Cluster {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: "ORIGINAL_DST",
    lb_policy: "CLUSTER_PROVIDED",
    connect_timeout: CONNECT_TIMEOUT,
    circuit_breakers: { thresholds: [{ max_connections: UNLIMITED, max_pending_requests: UNLIMITED, max_requests: UNLIMITED, max_retries: UNLIMITED }] },
  };
}

export function blackHoleCluster(): Cluster {
  return { name: BLACKHOLE_CLUSTER, type: "STATIC", lb_policy: "ROUND_ROBIN", connect_timeout: CONNECT_TIMEOUT };
}

/** The clusters the policy needs, sorted by name. */
export function clustersForPolicy(mode: OutboundTrafficMode): Cluster[] {
  return mode === "ALLOW_ANY" ? [blackHoleCluster(), passthroughCluster()] : [blackHoleCluster()];
}

/**
 * For the outbound clusters of a sidecar: BlackHoleCluster, and PassthroughCluster under
 * ALLOW_ANY (the Sidecar's own mode, else the mesh's). Proxyless gRPC clients get neither.
 */
export function egressPolicyClusters(input: ViewInput<Pick<ProxyNode, "type" | "namespace"> & SidecarScopeProxy>): Cluster[] {
  if (input.proxy.type !== "sidecar") return [];
  return clustersForPolicy(sidecarScope(input.objects, input.mesh, input.proxy).outboundTrafficPolicy);
}

/** The last virtual host of the sidecar's outbound route table, for any host no service claims. */
export function catchAllVirtualHost(mode: OutboundTrafficMode): VirtualHost {
  if (mode === "ALLOW_ANY") {
    return {
      name: ALLOW_ANY_ROUTE,
      domains: ["*"],
      // No timeout, as Istio: the unknown upstream may stream for as long as it likes.
      routes: [{ name: ALLOW_ANY_ROUTE, match: { prefix: "/" }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: NO_TIMEOUT } }],
    };
  }
  return {
    name: BLOCK_ALL_ROUTE,
    domains: ["*"],
    routes: [{ name: BLOCK_ALL_ROUTE, match: { prefix: "/" }, direct_response: { status: 502, body: { inline_string: BLOCKED_BODY } } }],
  };
}
