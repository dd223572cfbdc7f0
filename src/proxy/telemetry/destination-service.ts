// The destination_service* labels. Outbound clusters carry the service in their metadata
// (filter_metadata.istio.services[0], as Istio's do), read once when the cluster is compiled.
// Without it (inbound clusters, no route) the service comes from the request's authority,
// as Istio's stats filter falls back to the host header.
import type { Metadata, Struct, StructValue } from "../../xds/envoy-types.ts";
import { UNKNOWN } from "./peer-metadata.ts";

export interface DestinationService {
  /** FQDN, e.g. reviews.default.svc.cluster.local. */
  host: string;
  name: string;
  namespace: string;
}

function field(s: Struct | undefined, k: string): StructValue | undefined {
  return s?.fields?.[k];
}

/** filter_metadata.istio.services[0] of a cluster, or undefined when the cluster has none. */
export function clusterService(metadata: Metadata | undefined): DestinationService | undefined {
  const list = field(metadata?.filter_metadata?.istio, "services")?.list_value?.values;
  const first = list?.[0]?.struct_value;
  const host = field(first, "host")?.string_value;
  if (!host) return undefined;
  return {
    host,
    name: field(first, "name")?.string_value || host.split(".")[0],
    namespace: field(first, "namespace")?.string_value || UNKNOWN,
  };
}

/**
 * The service an authority names: "reviews" or "reviews:9080" in the proxy's namespace become
 * reviews.<ns>.svc.cluster.local; "reviews.prod" and the FQDN name their namespace; any other
 * host (an IP, an external name) is the service host itself with an unknown namespace.
 */
export function serviceFromAuthority(authority: string, ownNamespace: string): DestinationService {
  if (!authority || authority === "-") return { host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN };
  let host = authority;
  const bracket = host.startsWith("[");
  const colon = bracket ? host.indexOf("]:") + 1 : host.lastIndexOf(":");
  if (colon > 0 && /^\d+$/.test(host.slice(colon + 1))) host = host.slice(0, colon);
  host = host.toLowerCase();
  if (bracket || /^[\d.]+$/.test(host)) return { host, name: host, namespace: UNKNOWN };
  const parts = host.split(".");
  if (parts.length === 1) return { host: `${host}.${ownNamespace}.svc.cluster.local`, name: host, namespace: ownNamespace };
  if (parts.length === 2) return { host: `${host}.svc.cluster.local`, name: parts[0], namespace: parts[1] };
  if (host.endsWith(".svc.cluster.local") && parts.length === 5) return { host, name: parts[0], namespace: parts[1] };
  return { host, name: host, namespace: UNKNOWN };
}

/**
 * Istio's names for traffic to hosts outside the registry: the "block_all" route (REGISTRY_ONLY)
 * reports destination_service_name BlackHoleCluster, the "allow_any" route or PassthroughCluster
 * reports PassthroughCluster; destination_service stays the host the request named.
 */
export function catchAllServiceName(routeName: string, clusterName: string | undefined): string | undefined {
  if (routeName === "block_all" || clusterName === "BlackHoleCluster") return "BlackHoleCluster";
  if (routeName === "allow_any" || clusterName === "PassthroughCluster") return "PassthroughCluster";
  return undefined;
}
