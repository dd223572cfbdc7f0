// The ADS client our sidecar uses (state of the world). It keeps one stream to the control
// plane, decodes each response's resources into object form, lets the caller accept or reject
// them, and ACKs / NACKs accordingly. On a broken stream it reconnects with exponential
// backoff and jitter and re-sends every subscription with the last accepted version.
import { Client, credentials, Metadata, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { pino } from "pino";
import type { ProxyNode } from "./node.ts";
import { nodeToEnvoy } from "./node-codec.ts";
import { decodeResource, resourceName } from "./protos.ts";
import { healthRequest, type HealthReport } from "./health-info.ts";
import { ADS_PATH, encodeRequest, decodeResponse, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from "./ads-service.ts";

export interface AdsClientOptions {
  server: string;
  node: ProxyNode;
  logger?: Logger;
  /** Called for each response; return null to ACK, or an error message to NACK (the caller keeps its last good state). */
  onResponse(typeUrl: string, resources: { name: string; resource: any }[], version: string): string | null;
  onConnectionChange?(connected: boolean): void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** TLS to the control plane (verifying it against the mesh root); plaintext when absent. */
  credentials?: ChannelCredentials;
  /** Channel options, e.g. grpc.ssl_target_name_override for the name on the server's certificate. */
  channelOptions?: ChannelOptions;
  /** Sent as `authorization: Bearer <token>` on every stream: who this proxy is. */
  token?: string;
}

interface Subscription {
  /** Explicit names, sorted; [] with wildcard=false means "none". */
  names: string[];
  /** Every resource of the type (LDS / CDS). */
  wildcard: boolean;
  /** A request for this type went out on the current stream. */
  sentOnStream: boolean;
  /** Explicit names went out on the current stream, so a wildcard must now be spelled "*". */
  namedOnStream: boolean;
  /** version_info of the last accepted response ("" before any). */
  version: string;
  /** nonce of the last response seen on the current stream. */
  nonce: string;
}

type AdsStream = ClientDuplexStream<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage>;

const INVALID_ARGUMENT = 3;
const silent = pino({ level: "silent" });

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class AdsClient {
  private readonly opts: AdsClientOptions;
  private readonly logger: Logger;
  private readonly subs = new Map<string, Subscription>();
  private client: Client | undefined;
  private stream: AdsStream | undefined;
  private nodeSent = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private isConnected = false;
  /** Last health report, re-sent on every new stream (the server keeps health per stream). */
  private health: HealthReport | undefined;

  constructor(opts: AdsClientOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? silent;
  }

  private streamMetadata(): Metadata {
    const md = new Metadata();
    if (this.opts.token) md.set("authorization", `Bearer ${this.opts.token}`);
    return md;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  start(): void {
    if (this.client || this.stopped) return;
    this.client = new Client(this.opts.server, this.opts.credentials ?? credentials.createInsecure(), this.opts.channelOptions ?? {});
    this.open();
  }

  /**
   * Watches exactly `names` of a type; [] means "none" (unsubscribe from everything). Sends a
   * request when the set changed. An empty set is only sent to take back earlier names.
   */
  subscribe(typeUrl: string, names: string[]): void {
    this.setSubscription(typeUrl, [...new Set(names)].sort(), false);
  }

  /** Watches every resource of a type (wildcard; LDS and CDS). */
  subscribeAll(typeUrl: string): void {
    this.setSubscription(typeUrl, [], true);
  }

  private setSubscription(typeUrl: string, names: string[], wildcard: boolean): void {
    const sub = this.subs.get(typeUrl);
    if (sub && sub.wildcard === wildcard && sameNames(sub.names, names)) return;
    if (sub) {
      sub.names = names;
      sub.wildcard = wildcard;
    } else {
      this.subs.set(typeUrl, { names, wildcard, version: "", nonce: "", sentOnStream: false, namedOnStream: false });
    }
    this.send(typeUrl);
  }

  /**
   * Reports the application's health to the control plane (Istio's HealthInformation). The
   * caller reports changes; the client repeats the last report after every reconnect.
   */
  reportHealth(healthy: boolean, message?: string): void {
    this.health = healthy ? { healthy } : { healthy, ...(message ? { message } : {}) };
    this.sendHealth();
  }

  private sendHealth(): void {
    const stream = this.stream;
    if (!stream || !this.health) return;
    const req = healthRequest(this.health);
    this.withNode(req);
    try {
      stream.write(req);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "writing health report failed");
    }
  }

  /** The first request on a stream carries the node. */
  private withNode(req: Partial<DiscoveryRequestMessage>): void {
    if (this.nodeSent) return;
    req.node = nodeToEnvoy(this.opts.node) as Record<string, unknown>;
    this.nodeSent = true;
  }

  close(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    try {
      stream?.cancel();
    } catch {
      // already gone
    }
    this.client?.close();
    this.client = undefined;
    this.setConnected(false);
  }

  private open(): void {
    if (this.stopped || !this.client) return;
    const stream = this.client.makeBidiStreamRequest(
      ADS_PATH,
      (v: Partial<DiscoveryRequestMessage>) => encodeRequest(v),
      (b: Buffer) => decodeResponse(b),
      this.streamMetadata(),
    ) as AdsStream;
    this.stream = stream;
    this.nodeSent = false;
    for (const sub of this.subs.values()) {
      sub.nonce = "";
      sub.sentOnStream = false;
      sub.namedOnStream = false;
    }
    stream.on("metadata", () => this.guard(() => {
      if (this.stream !== stream) return;
      this.attempt = 0; // a server that skips unchanged types may send no response at all
      this.setConnected(true);
    }));
    stream.on("data", (res: DiscoveryResponseMessage) => this.guard(() => {
      if (this.stream !== stream) return;
      this.attempt = 0;
      this.setConnected(true);
      this.handleResponse(res);
    }));
    stream.on("error", (err: Error & { code?: number; details?: string }) => this.guard(() => this.broken(stream, `${err.message}`, err.code, err.details)));
    stream.on("end", () => this.guard(() => this.broken(stream, "server ended the stream")));
    for (const typeUrl of this.subs.keys()) this.send(typeUrl);
    this.sendHealth();
  }

  private broken(stream: AdsStream, why: string, code?: number, details?: string): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.setConnected(false);
    if (this.stopped) return;
    const base = this.opts.initialBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 10_000;
    // Refused (wrong or revoked token): retrying soon cannot help; say why and wait long.
    const refused = code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED;
    const delay = refused ? max : Math.min(max, base * 2 ** this.attempt) * (0.5 + Math.random() * 0.5);
    this.attempt = Math.min(this.attempt + 1, 30);
    if (refused) this.logger.error({ server: this.opts.server, retryInMs: Math.round(delay) }, `the control plane refused this proxy: ${details ?? why}`);
    else this.logger.warn({ server: this.opts.server, why, retryInMs: Math.round(delay) }, "ADS stream lost; reconnecting");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  private handleResponse(res: DiscoveryResponseMessage): void {
    const typeUrl = res.type_url;
    const sub = this.subs.get(typeUrl);
    if (!sub) {
      this.logger.warn({ type: typeUrl }, "response for a type this proxy did not subscribe to; ignored");
      return;
    }
    sub.nonce = res.nonce;
    let error: string | null = null;
    const resources: { name: string; resource: any }[] = [];
    for (const [i, any] of res.resources.entries()) {
      if (any.type_url !== typeUrl) {
        error = `resource ${i} has type ${any.type_url}, expected ${typeUrl}`;
        break;
      }
      try {
        const resource = decodeResource(any);
        resources.push({ name: resourceName(typeUrl, resource), resource });
      } catch (err) {
        error = `resource ${i} of ${typeUrl} does not decode: ${(err as Error).message}`;
        break;
      }
    }
    if (error === null) {
      try {
        error = this.opts.onResponse(typeUrl, resources, res.version_info);
      } catch (err) {
        error = `applying ${typeUrl} failed: ${(err as Error).message}`;
      }
    }
    if (error === null) {
      sub.version = res.version_info;
      this.send(typeUrl);
    } else {
      this.logger.warn({ type: typeUrl, version: res.version_info, keeping: sub.version }, `rejecting config (NACK): ${error}`);
      this.send(typeUrl, error);
    }
  }

  private send(typeUrl: string, error?: string): void {
    const stream = this.stream;
    const sub = this.subs.get(typeUrl);
    if (!stream || !sub) return;
    // "None" that this stream never asked otherwise needs no request at all; on the wire an
    // empty list is also Envoy's first-request wildcard, which only a wildcard may send.
    if (!sub.wildcard && sub.names.length === 0 && !sub.sentOnStream) return;
    let names = sub.names;
    if (sub.wildcard) names = sub.namedOnStream ? ["*"] : [];
    else if (names.length > 0) sub.namedOnStream = true;
    sub.sentOnStream = true;
    const req: Partial<DiscoveryRequestMessage> = {
      version_info: sub.version,
      resource_names: names,
      type_url: typeUrl,
      response_nonce: sub.nonce,
    };
    this.withNode(req);
    if (error !== undefined) req.error_detail = { code: INVALID_ARGUMENT, message: error };
    try {
      stream.write(req);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "writing DiscoveryRequest failed");
    }
  }

  private setConnected(value: boolean): void {
    if (this.isConnected === value) return;
    this.isConnected = value;
    try {
      this.opts.onConnectionChange?.(value);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, "onConnectionChange failed");
    }
  }

  /** Nothing thrown from our handlers may escape into grpc-js. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, "ADS client handler failed");
    }
  }
}
