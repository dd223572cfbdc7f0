// What the ADS server knows about each proxy's configuration: per type, what the proxy asked
// for, what was sent, what it accepted and what it rejected. The debug endpoint (/debug/syncz)
// and `mizzen proxy-status` read this.

export interface SentState { version: string; nonce: string; time: string; names: string[] }
export interface AckedState { version: string; time: string }
export interface NackState { version: string; message: string; time: string }

export interface TypeSyncStatus {
  typeUrl: string;
  /** Names the proxy subscribed to; empty with wildcard=true means all. */
  subscribed: string[];
  wildcard: boolean;
  sent?: SentState;
  acked?: AckedState;
  /** Set while the last response of this type stands rejected. */
  nack?: NackState;
  /** "SYNCED" (acked what was sent), "STALE" (response not yet acked), "NACKED", "NOT_SENT". */
  state: "SYNCED" | "STALE" | "NACKED" | "NOT_SENT";
}

export interface ProxySyncStatus {
  connectionId: string;
  proxyId: string;
  connectedAt: string;
  types: TypeSyncStatus[];
  /** The proxy's last report of its application's health (HealthInformation), if any. */
  health?: { healthy: boolean; message?: string; time: string };
}

/** Mutable per-type state of one stream. */
export class TypeState {
  readonly typeUrl: string;
  names: string[] = [];
  wildcard = false;
  /** The stream has named resources of this type: from then on empty names mean "none". */
  named = false;
  /** The subscription the last response (or skip) was computed for, as a key. */
  answeredFor: string | undefined;
  sent: SentState | undefined;
  acked: AckedState | undefined;
  nack: NackState | undefined;
  private keyMemo: { names: string[]; wildcard: boolean; key: string } | undefined;

  constructor(typeUrl: string) {
    this.typeUrl = typeUrl;
  }

  subscribe(names: string[], wildcard: boolean): void {
    this.names = names;
    this.wildcard = wildcard;
    if (names.some((n) => n !== "*")) this.named = true;
  }

  subscriptionKey(): string {
    // Asked on every push for every stream; recomputed only when the subscription changed.
    const memo = this.keyMemo;
    if (memo && memo.names === this.names && memo.wildcard === this.wildcard) return memo.key;
    const key = this.wildcard ? "*" : JSON.stringify([...new Set(this.names)].sort());
    this.keyMemo = { names: this.names, wildcard: this.wildcard, key };
    return key;
  }

  status(): TypeSyncStatus {
    const out: TypeSyncStatus = { typeUrl: this.typeUrl, subscribed: [...this.names], wildcard: this.wildcard, state: "NOT_SENT" };
    if (this.sent) out.sent = { ...this.sent, names: [...this.sent.names] };
    if (this.acked) out.acked = { ...this.acked };
    if (this.nack) out.nack = { ...this.nack };
    if (this.nack) out.state = "NACKED";
    else if (this.sent) out.state = this.acked?.version === this.sent.version ? "SYNCED" : "STALE";
    return out;
  }
}

export interface AdsStats {
  connectedProxies: number;
  /** Responses sent, by type URL. */
  pushesByType: Record<string, number>;
  nacks: number;
  /** Debounced push rounds run. */
  pushRounds: number;
  lastPushReasons: string[];
  generationErrors: number;
  staleNonces: number;
  badRequests: number;
}

export function emptyStats(): AdsStats {
  return { connectedProxies: 0, pushesByType: {}, nacks: 0, pushRounds: 0, lastPushReasons: [], generationErrors: 0, staleNonces: 0, badRequests: 0 };
}
