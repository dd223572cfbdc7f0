// Which HTTP/1.1 client carries upstream tries: the lean client of this folder ("lean",
// LeanAttempt; the default) or Node's http.request over keep-alive agents ("node", Attempt;
// kept as a fallback). Chosen once at start by MIZZEN_UPSTREAM_CLIENT; callers start a try
// here and never learn which one ran. bench/results/upstream-client.md: lean uses ~0.71x the
// CPU per request of node through two mTLS sidecars, with ~1.3x the throughput.
import type { OutgoingHttpHeaders } from "node:http";
import type tls from "node:tls";
import type { Readable } from "node:stream";
import type { EndpointAddress } from "../../state/types.ts";
import { Attempt, type AttemptHandlers } from "../attempt.ts";
import type { ClusterRuntime } from "../cluster-runtime.ts";
import { LeanAttempt } from "./lean-attempt.ts";

export type UpstreamClient = "node" | "lean";

/** Reads the switch; an unknown value keeps the default and says so once on stderr. */
export function upstreamClientFrom(value: string | undefined): UpstreamClient {
  if (value === undefined || value === "" || value === "lean") return "lean";
  if (value === "node") return "node";
  process.stderr.write(`mizzen: MIZZEN_UPSTREAM_CLIENT="${value}" is not "lean" or "node"; using "lean"\n`);
  return "lean";
}

export const UPSTREAM_CLIENT: UpstreamClient = upstreamClientFrom(process.env.MIZZEN_UPSTREAM_CLIENT);

export interface Http1TryRequest {
  endpoint: EndpointAddress;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  connectTimeoutMs: number;
  /** Buffered body (replayable), a stream (single use), or undefined for none. */
  body: Buffer | Readable | undefined;
  /** Close a connection after this many requests (0 = never). */
  maxRequestsPerConnection?: number;
  onWaitEnd?: () => void;
  /** TLS towards the endpoint: the options and the key of their setting; plaintext when absent. */
  tls?: { options: tls.ConnectionOptions; key: string };
}

/** A try in flight, whichever client runs it. */
export interface UpstreamTry {
  readonly endpoint: EndpointAddress;
  abort(): void;
}

/** Starts one HTTP/1.1 try on the cluster's pools with the client chosen at start. */
export function startHttp1Try(runtime: ClusterRuntime, r: Http1TryRequest, h: AttemptHandlers, client: UpstreamClient = UPSTREAM_CLIENT): UpstreamTry {
  const { tls: t, ...rest } = r;
  if (client === "lean") {
    const pool = t ? runtime.h1.forTls(t.options, t.key) : runtime.h1.plain;
    return new LeanAttempt({ ...rest, pool, tls: t !== undefined }, h);
  }
  return new Attempt({ ...rest, agent: runtime.agent, ...(t ? { tlsAgent: runtime.tlsAgentFor(t.options, t.key) } : {}) }, h);
}
