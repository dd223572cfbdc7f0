// What each Envoy response flag means and where to look, in one table shared by
// `mizzen describe`, the dashboard and anything else that explains a failed request.
// docs/errors.md is the long form of the same table.

export interface FlagMeaning {
  /** The status a client usually sees with it ("—" when the flag rides on another outcome). */
  status: string;
  meaning: string;
  look: string;
}

export const RESPONSE_FLAGS: Readonly<Record<string, FlagMeaning>> = {
  NR: { status: "404", meaning: "no route: no virtual host matched the request's host, or no route of it matched", look: "the VirtualService's match blocks; `mizzen proxy-config routes` of the client's sidecar" },
  NC: { status: "503", meaning: "the route names a cluster the proxy does not have (typically a VirtualService subset no DestinationRule defines)", look: "the DestinationRule's subsets; the control plane's warnings" },
  UH: { status: "503", meaning: "the cluster has no healthy endpoint (no workload selected, all gone, or ejected by outlier detection)", look: "`mizzen describe` endpoints; `mizzen proxy-config endpoints` of the client's sidecar" },
  UF: { status: "503", meaning: "connecting to the upstream failed (refused, unreachable, or a TLS handshake error)", look: "is the destination and its sidecar running? TLS_error in the details means a certificate or SAN mismatch" },
  UC: { status: "503", meaning: "the upstream connection closed before a full response", look: "the destination application's own log" },
  UT: { status: "504", meaning: "the route's timeout expired", look: "the VirtualService timeout; the destination's latency" },
  URX: { status: "—", meaning: "retries were exhausted (shown beside the flag of the last try)", look: "the VirtualService retries" },
  UO: { status: "503", meaning: "a circuit breaker refused the request (connection pool limits reached)", look: "the DestinationRule connectionPool" },
  UR: { status: "503", meaning: "the upstream reset the stream", look: "the destination application's own log" },
  LR: { status: "503", meaning: "the proxy reset the connection locally", look: "the sidecar's log" },
  FI: { status: "the fault's status", meaning: "a VirtualService fault.abort answered instead of the upstream", look: "the VirtualService fault and its percentage" },
  DI: { status: "—", meaning: "a VirtualService fault.delay held the request before routing it", look: "the VirtualService fault" },
  DC: { status: "—", meaning: "the downstream client went away before the response ended", look: "the client" },
  DPE: { status: "400", meaning: "the downstream request broke the HTTP protocol", look: "the client" },
  UPE: { status: "502", meaning: "the upstream response broke the HTTP protocol", look: "the destination application" },
  UAEX: { status: "403", meaning: "an external authorizer denied the request", look: "the CUSTOM AuthorizationPolicy's provider" },
  RL: { status: "429", meaning: "rate limited", look: "the rate limit configuration" },
  SI: { status: "—", meaning: "the stream idle timeout expired", look: "idle timeouts in the DestinationRule" },
};

/** Details strings that explain a failure without a flag (RBAC and JWT denials carry none). */
const DETAILS: readonly [RegExp, string][] = [
  [/^rbac_access_denied/, "an AuthorizationPolicy denied it (the details name the policy; `none` means ALLOW policies exist and none matched)"],
  [/^jwt_authn_access_denied/, "RequestAuthentication: the request carried an invalid JWT"],
  [/^route_not_found/, "no route matched"],
  [/^cluster_not_found/, "the route's cluster is unknown to the proxy"],
  [/^via_upstream$/, "the application answered this status itself: the mesh delivered the request (see the application's log)"],
];

/** One line per flag of a comma-separated flag list, or the details' meaning when no flag is set. */
export function explainFailure(flags: string, details = "-"): string[] {
  const out: string[] = [];
  for (const f of flags.split(",")) {
    const m = RESPONSE_FLAGS[f.trim()];
    if (m) out.push(`${f.trim()}: ${m.meaning}. Check: ${m.look}`);
  }
  if (out.length === 0) for (const [re, text] of DETAILS) if (re.test(details)) out.push(text);
  return out;
}
