// Envoy prints response flags in the order of its flag list, whatever order they were set.
const FLAG_ORDER = ["LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM"];

// What one request did, filled in as it goes; the access log and counters read it at the end.
export class RequestLog {
  readonly start = Date.now();
  method = "-";
  /** Original path as the client sent it (origin form). */
  path = "-";
  protocol = "HTTP/1.1";
  status = 0;
  /** Envoy response flags, comma-separated when several ("-" when none). */
  flags = "";
  details = "-";
  connectionTermination = "-";
  transportFailure = "-";
  bytesReceived = 0;
  bytesSent = 0;
  upstreamServiceTime = "-";
  requestId: string | undefined;
  authority = "-";
  upstreamHost = "-";
  upstreamCluster = "-";
  upstreamLocal = "-";
  downstreamLocal = "-";
  downstreamRemote = "-";
  routeName = "-";
  forwardedFor: string | undefined;
  /** The proxy itself cut the downstream connection (so it is not a downstream disconnect). */
  endedByProxy = false;
  userAgent: string | undefined;
  /** A gRPC request (content-type application/grpc*): local replies answer with grpc-status. */
  grpc = false;
  /** The gRPC status the response carried (trailers, a trailers-only answer, or a local reply's). */
  grpcStatus: string | undefined = undefined;
  /** Peer metadata (x-envoy-peer-metadata) the downstream sent with the request, and the upstream with its response. */
  downstreamPeer: string | undefined;
  /** The downstream's verified SPIFFE ID (mTLS), when the request came over mesh TLS. */
  downstreamPrincipal: string | undefined = undefined;
  /** The request came over mesh mTLS (inbound). */
  downstreamTls = false;
  /** The upstream connection was TLS, and the identity the upstream presented. */
  upstreamTls = false;
  upstreamPrincipal: string | undefined = undefined;
  upstreamPeer: string | undefined;
  /** Set on inbound listeners with telemetry: this proxy's peer metadata, added to every response it writes. */
  replyPeer: { peerMetadata: string; peerId: string } | undefined;

  addFlag(flag: string): void {
    if (!this.flags) {
      this.flags = flag;
      return;
    }
    const set = this.flags.split(",");
    if (set.includes(flag)) return;
    set.push(flag);
    set.sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b));
    this.flags = set.join(",");
  }
}
