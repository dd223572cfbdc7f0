// The workload and service labels every Istio metric carries (HTTP and TCP alike), and the
// two identity sources that need no header exchange: a peer's mTLS certificate (its SPIFFE
// ID names its namespace) and the SNI a client sidecar sends (Istio's outbound_.<port>_.<subset>_.<host>).
import type { LabelPair } from "./metric-families.ts";
import { UNKNOWN, UNKNOWN_PEER, type PeerInfo } from "./peer-metadata.ts";
import { serviceFromAuthority, type DestinationService } from "./destination-service.ts";

/** reporter, source_*, destination_* (the principals and outcome labels are added per series). */
export function identityPairs(inbound: boolean, self: PeerInfo, peer: PeerInfo, svc: DestinationService): LabelPair[] {
  const src = inbound ? peer : self;
  const dst = inbound ? self : peer;
  return [
    ["reporter", inbound ? "destination" : "source"],
    ["source_workload", src.workload],
    ["source_canonical_service", src.canonicalService],
    ["source_canonical_revision", src.canonicalRevision],
    ["source_workload_namespace", src.namespace],
    ["source_app", src.app],
    ["source_version", src.version],
    ["source_cluster", src.cluster],
    ["destination_workload", dst.workload],
    ["destination_workload_namespace", dst.namespace],
    ["destination_app", dst.app],
    ["destination_version", dst.version],
    ["destination_service", svc.host],
    ["destination_service_name", svc.name],
    ["destination_service_namespace", svc.namespace],
    ["destination_canonical_service", dst.canonicalService],
    ["destination_canonical_revision", dst.canonicalRevision],
    ["destination_cluster", dst.cluster],
  ];
}

/**
 * A peer known only by its certificate: spiffe://<trust domain>/ns/<ns>/sa/<sa> gives the
 * workload namespace (the service account is in the *_principal label); the rest stays unknown.
 */
export function peerFromPrincipal(principal: string | undefined): PeerInfo {
  const m = principal ? /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal) : null;
  return m ? { ...UNKNOWN_PEER, namespace: m[1]! } : UNKNOWN_PEER;
}

const UNKNOWN_SERVICE: DestinationService = Object.freeze({ host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN });

/**
 * The service a client sidecar named in its SNI (outbound_.9080_.v1_.reviews.default.svc.cluster.local),
 * the only place an inbound TCP connection says which service it was for.
 */
export function serviceFromSni(serverName: string | undefined, ownNamespace: string): DestinationService {
  const m = serverName ? /^outbound_\.\d+_\.[^_]*_\.(.+)$/.exec(serverName) : null;
  return m ? serviceFromAuthority(m[1]!, ownNamespace) : UNKNOWN_SERVICE;
}
