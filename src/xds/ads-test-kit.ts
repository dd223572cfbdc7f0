// Shared fixtures for the xDS tests: nodes, small realistic resources, and a waiter.
import type { ProxyNode } from "./node.ts";
import { TYPE, type Cluster, type ClusterLoadAssignment, type Listener, type RouteConfiguration } from "./envoy-types.ts";

export function testNode(name: string, overrides: Partial<ProxyNode> = {}): ProxyNode {
  const ip = overrides.ip ?? "127.10.1.1";
  const ns = overrides.namespace ?? "default";
  return {
    id: `sidecar~${ip}~${name}.${ns}~${ns}.svc.cluster.local`,
    type: "sidecar",
    ip,
    name,
    namespace: ns,
    labels: { app: name },
    serviceAccount: "default",
    ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
    appAddress: "127.10.2.1",
    interceptionMode: "NONE",
    autoRegister: false,
    ...overrides,
  };
}

export function rdsListener(name: string, port: number, routeName: string): Listener {
  return {
    name,
    address: { socket_address: { address: "127.10.1.1", port_value: port } },
    traffic_direction: "OUTBOUND",
    filter_chains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": TYPE.hcm,
          stat_prefix: name,
          rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: "V3" } },
          http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
        },
      }],
    }],
  };
}

export function simpleRoute(name: string, cluster: string): RouteConfiguration {
  return {
    name,
    virtual_hosts: [{ name: `${name}-vh`, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
  };
}

export function edsCluster(name: string): Cluster {
  return {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name },
    connect_timeout: { seconds: 10 },
    lb_policy: "ROUND_ROBIN",
  };
}

export function assignment(name: string, ips: string[], port = 8080): ClusterLoadAssignment {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: ips.map((ip) => ({ endpoint: { address: { socket_address: { address: ip, port_value: port } } } })) }],
  };
}

/** Polls `cond` until true; fails with `what` after `timeoutMs` (a bound, not a timing check). */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`; used only to let "nothing happens" settle, never to assert timing. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
