// Request and response header handling every proxy must do: drop hop-by-hop headers (and
// those the Connection header names), set the forwarding headers.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
  "te", "trailer", "transfer-encoding", "upgrade", "expect",
]);

function connectionListed(headers: IncomingHttpHeaders): Set<string> | undefined {
  const c = headers.connection;
  if (!c) return undefined;
  const names = new Set<string>();
  for (const part of c.split(",")) {
    const n = part.trim().toLowerCase();
    if (n && n !== "close" && n !== "keep-alive") names.add(n);
  }
  return names.size ? names : undefined;
}

/** A copy of the headers without hop-by-hop ones (nor HTTP/2 pseudo-headers such as ":path"). */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (listed && listed.has(name)) || name.charCodeAt(0) === 58) continue;
    out[name] = headers[name];
  }
  return out;
}

/** Appends the peer to x-forwarded-for (inbound listeners do this, as Envoy with use_remote_address). */
export function appendForwardedFor(headers: OutgoingHttpHeaders, peer: string | undefined): void {
  if (!peer) return;
  const cur = headers["x-forwarded-for"];
  headers["x-forwarded-for"] = cur ? `${String(cur)}, ${peer}` : peer;
}
