// One proxy's ADS stream (state of the world): subscriptions per type, nonces, ACK / NACK
// bookkeeping, and deciding when a response is due. The server owns the gRPC plumbing and
// the push queue; this class owns the protocol rules for one stream.
import { status as GrpcStatus, type Metadata, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ProxyNode } from "./node.ts";
import { readEnvoyNode } from "./node-codec.ts";
import { messageType } from "./protos.ts";
import { encodeSubset, isWildcardRequest, type EncodedSubset } from "./resource-set.ts";
import { TypeState, type AdsStats, type ProxySyncStatus } from "./sync-status.ts";
import type { DiscoveryRequestMessage, DiscoveryResponseMessage } from "./ads-service.ts";
import { HEALTH_INFO_TYPE, readHealthReport, type HealthReport } from "./health-info.ts";

export type AdsCall = ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

export interface ConnectionDeps {
  resourcesFor(node: ProxyNode): Map<string, ReadonlyMap<string, object>>;
  logger: Logger;
  stats: AdsStats;
  nextNonce(): string;
  /** Called once, when the first request brought a usable node. */
  identified(conn: AdsConnection): void;
  /**
   * May this caller speak for this node? Checked once, before `identified`; a refusal ends the
   * stream with its gRPC code and message (e.g. a token for another workload's identity).
   */
  authorize?(node: ProxyNode, metadata: Metadata): { code: GrpcStatus; message: string } | undefined;
  /** A health report arrived (HealthInformation); `changed` compares with this stream's last one. */
  health(conn: AdsConnection, report: HealthReport, changed: boolean): void;
  observer?: AdsObserver;
}

/** Hooks for the control plane's metrics; the xDS code itself keeps no histograms. */
export interface AdsObserver {
  /** A response of this type was encoded and written in `seconds`. */
  sent?(typeUrl: string, seconds: number): void;
  /** The proxy rejected (NACKed) a response of this type. */
  nacked?(typeUrl: string): void;
  /** A push reached a proxy `seconds` after the first change it carries. */
  converged?(seconds: number): void;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class AdsConnection {
  readonly id: string;
  readonly connectedAt = new Date();
  node: ProxyNode | undefined;
  closed = false;
  /** The last health report on this stream, if the proxy sent any. */
  health: (HealthReport & { time: string }) | undefined;
  private readonly call: AdsCall;
  private readonly deps: ConnectionDeps;
  private readonly types = new Map<string, TypeState>();
  private readonly ignoredTypes = new Set<string>();
  /** Last resources resourcesFor returned without throwing. */
  private resources: Map<string, ReadonlyMap<string, object>> | undefined;

  constructor(id: string, call: AdsCall, deps: ConnectionDeps) {
    this.id = id;
    this.call = call;
    this.deps = deps;
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  handleRequest(req: DiscoveryRequestMessage): void {
    if (this.closed) return;
    if (!this.node) {
      const read = readEnvoyNode(req.node);
      if ("error" in read) {
        this.deps.stats.badRequests++;
        this.log.warn({ connection: this.id, peer: this.peer(), type: req.type_url }, `ADS stream rejected: ${read.error}`);
        this.fail(GrpcStatus.INVALID_ARGUMENT, read.error);
        return;
      }
      const refused = this.deps.authorize?.(read.node, this.call.metadata);
      if (refused) {
        this.deps.stats.badRequests++;
        this.log.warn({ connection: this.id, peer: this.peer(), proxy: read.node.id }, `ADS stream refused: ${refused.message}`);
        this.fail(refused.code, refused.message);
        return;
      }
      this.node = read.node;
      this.deps.identified(this);
    }
    const typeUrl = req.type_url;
    if (typeUrl === HEALTH_INFO_TYPE) {
      this.recordHealth(req);
      return;
    }
    if (!typeUrl || !messageType(typeUrl)) {
      this.deps.stats.badRequests++;
      if (!this.ignoredTypes.has(typeUrl)) {
        this.ignoredTypes.add(typeUrl);
        this.log.warn({ proxy: this.node.id, type: typeUrl }, "ignoring DiscoveryRequest for an unknown type URL (not an Envoy type this control plane serves)");
      }
      return;
    }
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = new TypeState(typeUrl);
      this.types.set(typeUrl, st);
    }
    const nonce = req.response_nonce;
    const names = req.resource_names.filter((n) => typeof n === "string");
    if (!first && nonce && nonce !== st.sent?.nonce) {
      // A newer response is on its way; the client will answer that one. Keep its new
      // subscription so that answer is compared with it (xDS spec on stale nonces).
      this.deps.stats.staleNonces++;
      st.subscribe(names, isWildcardRequest(typeUrl, names, !st.named));
      this.log.debug({ proxy: this.node.id, type: typeUrl, nonce }, "stale nonce; request ignored");
      return;
    }
    if (nonce && st.sent && nonce === st.sent.nonce) this.recordReply(st, req);
    st.subscribe(names, isWildcardRequest(typeUrl, names, !st.named));
    this.answer(st, first ? req.version_info : undefined);
  }

  /** A report, not a subscription: remembered and passed on, never answered. */
  private recordHealth(req: DiscoveryRequestMessage): void {
    const report = readHealthReport(req);
    const before = this.health;
    const changed = !before || before.healthy !== report.healthy || before.message !== report.message;
    this.health = { ...report, time: new Date().toISOString() };
    this.deps.health(this, report, changed);
  }

  private recordReply(st: TypeState, req: DiscoveryRequestMessage): void {
    const sent = st.sent!;
    const now = new Date().toISOString();
    const err = req.error_detail;
    if (err && (err.code || err.message)) {
      const message = err.message || `error code ${err.code}`;
      st.nack = { version: sent.version, message, time: now };
      this.deps.stats.nacks++;
      this.deps.observer?.nacked?.(st.typeUrl);
      this.log.warn({ proxy: this.node?.id, type: st.typeUrl, version: sent.version, acked: st.acked?.version ?? "" }, `proxy rejected config (NACK): ${message}`);
    } else {
      st.acked = { version: sent.version, time: now };
      st.nack = undefined;
    }
  }

  /** Recomputes this proxy's resources (a push reached it) and sends every type that changed. */
  refresh(): void {
    if (this.closed || !this.node) return;
    if (!this.generate()) return;
    for (const st of this.types.values()) this.answer(st, undefined);
  }

  private generate(): boolean {
    try {
      this.resources = this.deps.resourcesFor(this.node!);
      return true;
    } catch (err) {
      this.deps.stats.generationErrors++;
      this.log.error({ proxy: this.node?.id, err: describeError(err) }, "generating config for proxy failed; it keeps its current config");
      return false;
    }
  }

  /**
   * Sends `st`'s subset when it differs from what was last sent or the subscription changed.
   * `clientVersion` is the version_info of a stream's first request for the type: when it
   * equals the current content (a reconnect), nothing needs sending.
   */
  private answer(st: TypeState, clientVersion: string | undefined): void {
    const started = performance.now();
    if (!this.resources && !this.generate()) return;
    let subset: EncodedSubset;
    try {
      subset = encodeSubset(st.typeUrl, this.resources!.get(st.typeUrl), st.names, st.wildcard);
    } catch (err) {
      this.deps.stats.generationErrors++;
      this.log.error({ proxy: this.node?.id, type: st.typeUrl, err: describeError(err) }, "config for proxy does not encode; it keeps its current config");
      return;
    }
    const key = st.subscriptionKey();
    const now = new Date().toISOString();
    if (clientVersion && clientVersion === subset.version) {
      st.answeredFor = key;
      st.sent = { version: subset.version, nonce: "", time: now, names: subset.names };
      st.acked = { version: subset.version, time: now };
      this.log.debug({ proxy: this.node?.id, type: st.typeUrl, version: subset.version }, "proxy already has this version");
      return;
    }
    if (st.sent && st.answeredFor === key && st.sent.version === subset.version) return;
    const nonce = this.deps.nextNonce();
    const response: DiscoveryResponseMessage = { version_info: subset.version, resources: subset.resources, type_url: st.typeUrl, nonce };
    st.answeredFor = key;
    st.sent = { version: subset.version, nonce, time: now, names: subset.names };
    this.deps.stats.pushesByType[st.typeUrl] = (this.deps.stats.pushesByType[st.typeUrl] ?? 0) + 1;
    this.log.debug({ proxy: this.node?.id, type: st.typeUrl, version: subset.version, nonce, resources: subset.names.length }, "sent");
    this.write(response);
    this.deps.observer?.sent?.(st.typeUrl, (performance.now() - started) / 1000);
  }

  private write(response: DiscoveryResponseMessage): void {
    if (this.closed) return;
    try {
      this.call.write(response);
    } catch (err) {
      this.log.warn({ proxy: this.node?.id, err: describeError(err) }, "writing to ADS stream failed");
    }
  }

  private peer(): string {
    try {
      return this.call.getPeer();
    } catch {
      return "unknown";
    }
  }

  /** Ends the stream with a gRPC error status (bad client input). */
  fail(code: GrpcStatus, details: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.call.emit("error", { code, details, name: "AdsError", message: details });
    } catch {
      // stream already gone
    }
  }

  /** Ends the stream from the server side (shutdown). */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.call.end();
    } catch {
      // stream already gone
    }
  }

  status(): ProxySyncStatus {
    return {
      connectionId: this.id,
      proxyId: this.node?.id ?? "",
      connectedAt: this.connectedAt.toISOString(),
      types: [...this.types.values()].map((t) => t.status()),
      ...(this.health ? { health: { ...this.health } } : {}),
    };
  }
}
