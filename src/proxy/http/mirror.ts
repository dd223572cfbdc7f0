// Request mirroring (Envoy's request_mirror_policies; Istio's mirror, mirrorPercentage and
// mirrors): a fire-and-forget copy of a request to another cluster, with the Host suffixed
// "-shadow" as Envoy does. The copy never delays or fails the main request: it is sent after
// the main try has started, its response is drained and dropped, and its failures are only
// counted (MIRROR_STAT), never logged per request.
//
// Bodies: the main request body is never held back for a mirror. A copy is sent only when
// the body is empty or was already buffered for retries (forward.ts buffers bodies up to
// MAX_BUFFERED_BODY when the route may retry); a streamed body cannot be read twice, so such
// requests are not mirrored and are counted as skipped.
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { CompiledMirror, Snapshot } from "../state/types.ts";
import type { ClusterRuntimes } from "../upstream/cluster-runtime.ts";
import { startHttp1Try } from "../upstream/h1/client-switch.ts";
import { hits } from "./filters/percent.ts";
import type { ProxyStats } from "../stats.ts";

export const MIRROR_STAT = {
  /** Copies sent to a mirror cluster. */
  sent: "http_mirror.rq_sent",
  /** Copies that got a response (any status). */
  answered: "http_mirror.rq_answered",
  /** Copies that failed: unknown cluster, no healthy endpoint, connect error, reset or timeout. */
  failed: "http_mirror.rq_failed",
  /** Requests whose draw chose a mirror but whose body was streamed, so no copy was made. */
  skippedBody: "http_mirror.rq_skipped_streamed_body",
} as const;

/** A mirror with no route timeout still ends: Envoy's default route timeout. */
const MIRROR_TIMEOUT_WHEN_NONE_MS = 15_000;

export interface MirrorContext {
  runtimes: ClusterRuntimes;
  stats: ProxyStats;
}

/** The request as forwarded upstream (path after rewrite, headers after route header ops). */
export interface ShadowRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer | undefined;
}

/** "host" -> "host-shadow", "host:port" -> "host-shadow:port", "[::1]:80" -> "[::1]-shadow:80" (Envoy's placement). */
export function shadowHost(authority: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(:\d*)?$/.exec(authority);
  if (!m) return `${authority}-shadow`;
  return `${m[1]}-shadow${m[2] ?? ""}`;
}

/** The mirrors one request will feed; the draws happen once, when the route is chosen. */
export class RequestMirrors {
  private readonly ctx: MirrorContext;
  private readonly snap: Snapshot;
  private readonly clusters: readonly string[];
  private readonly timeoutMs: number;

  constructor(ctx: MirrorContext, snap: Snapshot, clusters: readonly string[], routeTimeoutMs: number) {
    this.ctx = ctx;
    this.snap = snap;
    this.clusters = clusters;
    this.timeoutMs = routeTimeoutMs > 0 ? routeTimeoutMs : MIRROR_TIMEOUT_WHEN_NONE_MS;
  }

  /** Sends one copy per chosen mirror. Never throws. */
  send(r: ShadowRequest): void {
    const host = typeof r.headers.host === "string" ? r.headers.host : "";
    const headers: OutgoingHttpHeaders = { ...r.headers, host: shadowHost(host) };
    for (const name of this.clusters) {
      try {
        this.sendOne(name, { ...r, headers });
      } catch {
        this.ctx.stats.inc(MIRROR_STAT.failed);
      }
    }
  }

  /** The body was streamed to the main upstream: no copy can be made. */
  skip(): void {
    this.ctx.stats.inc(MIRROR_STAT.skippedBody, this.clusters.length);
  }

  private sendOne(name: string, r: ShadowRequest): void {
    const { stats, runtimes } = this.ctx;
    const cluster = this.snap.clusters.get(name);
    // ORIGINAL_DST would mean "the address the client asked for": the main request's target.
    if (!cluster || cluster.type === "ORIGINAL_DST") {
      stats.inc(MIRROR_STAT.failed);
      return;
    }
    const runtime = runtimes.get(name);
    const ep = runtime.pick(cluster, undefined);
    if (!ep) {
      stats.inc(MIRROR_STAT.failed);
      return;
    }
    // Per-host counters as for any request, but no circuit-breaker slot: a hanging mirror
    // must not make the main cluster refuse requests.
    const hostStats = runtime.host(ep.key);
    hostStats.rqTotal++;
    hostStats.rqActive++;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const end = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      hostStats.rqActive--;
      if (!ok) {
        hostStats.rqError++;
        stats.inc(MIRROR_STAT.failed);
      }
    };
    stats.inc(MIRROR_STAT.sent);
    const attempt = startHttp1Try(
      runtime,
      { endpoint: ep, method: r.method, path: r.path, headers: r.headers, connectTimeoutMs: cluster.connectTimeoutMs, body: r.body, maxRequestsPerConnection: cluster.maxRequestsPerConnection },
      {
        onResponse: (res: IncomingMessage) => {
          stats.inc(MIRROR_STAT.answered);
          if ((res.statusCode ?? 502) < 500) hostStats.rqSuccess++;
          else hostStats.rqError++;
          res.on("error", () => end(false));
          res.once("end", () => end(true));
          res.resume(); // drained and dropped; the connection goes back to the pool
        },
        onFailure: () => end(false),
      },
    );
    timer = setTimeout(() => {
      attempt.abort();
      hostStats.rqTimeout++;
      end(false);
    }, this.timeoutMs);
    timer.unref();
  }
}

/** Draws each policy once; undefined when no copy is to be made for this request. */
export function drawMirrors(ctx: MirrorContext, snap: Snapshot, policies: readonly CompiledMirror[], routeTimeoutMs: number, random: () => number = Math.random): RequestMirrors | undefined {
  if (policies.length === 0) return undefined;
  const chosen: string[] = [];
  for (const p of policies) if (hits(p.fraction, random)) chosen.push(p.cluster);
  return chosen.length ? new RequestMirrors(ctx, snap, chosen, routeTimeoutMs) : undefined;
}
