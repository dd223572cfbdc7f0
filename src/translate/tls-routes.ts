// VirtualService `tls:` routes -> SNI-matched tcp_proxy plans for one TLS/HTTPS service port:
// the sidecar routes TLS by the ClientHello's server name without terminating it. Istio's
// shape: one filter chain per (rule, match) with server_names = the match's sniHosts; a
// service without an applicable TLS route gets one chain for its own host names, to its own
// cluster. Earlier rules come first, so an SNI both name goes by the earlier one.
import type { Service } from "../registry/types.ts";
import { objs, strs } from "../registry/read-spec.ts";
import { outboundClusterName } from "./hosts.ts";
import type { ViewInput } from "./input.ts";
import { l4MatchApplies, meshVirtualServicesWith, targetOfRoutes, type TcpRouteProxyView, type TcpTarget } from "./tcp-routes.ts";
import { virtualServiceFor } from "./virtual-services.ts";

export interface SniPlan {
  /** filter_chain_match.server_names (lower case; "*.x" wildcards allowed). */
  serverNames: string[];
  target: TcpTarget;
  /** The VirtualService that made it ("ns/name"), or undefined for the default plan. */
  config: string | undefined;
}

/** A sniHost as a server_names entry: lower case, Istio's "*" alone means any name (no entry). */
function serverName(h: string): string | undefined {
  const n = h.trim().toLowerCase().replace(/\.$/, "");
  if (!n || n === "*") return undefined;
  return n;
}

/**
 * SNI plans for `service` on `port`; `defaultNames` are the names a client may use for the
 * service (its FQDN and visible aliases), used when no TLS route applies.
 */
export function tlsPlans(input: ViewInput<TcpRouteProxyView>, service: Service, port: number, defaultNames: readonly string[]): SniPlan[] {
  const plans: SniPlan[] = [];
  const vs = virtualServiceFor(meshVirtualServicesWith(input.objects, input.proxy.namespace, "tls"), service, input.proxy.namespace, input.mesh);
  if (vs) {
    const config = `${vs.metadata.namespace}/${vs.metadata.name}`;
    for (const rule of objs(vs.spec.tls)) {
      const target = targetOfRoutes(input, vs, rule.route, port);
      if (!target) continue;
      for (const m of objs(rule.match)) {
        if (!l4MatchApplies(m, port, input.proxy)) continue;
        const names = [...new Set(strs(m.sniHosts).map(serverName).filter((n): n is string => n !== undefined))];
        if (names.length > 0) plans.push({ serverNames: names, target, config });
      }
    }
  }
  if (plans.length === 0) plans.push({ serverNames: [...defaultNames], target: { cluster: outboundClusterName(port, "", service.hostname) }, config: undefined });
  return plans;
}
