// Coalesces push requests: many config changes in a burst become one recomputation. A push
// waits `debounceMs` of quiet, but never more than `maxDelayMs` after the first pending push,
// so a steady stream of changes still reaches proxies.
import type { ProxyNode } from "./node.ts";

export type ProxyPredicate = (node: ProxyNode) => boolean;

export interface PendingPush {
  reasons: string[];
  /** undefined: every proxy; else a proxy is affected when any predicate says so. */
  predicates: ProxyPredicate[] | undefined;
}

export class PushQueue {
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly flush: (push: PendingPush) => void;
  private pending: PendingPush | undefined;
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: { debounceMs: number; maxDelayMs: number; flush: (push: PendingPush) => void }) {
    this.debounceMs = Math.max(0, opts.debounceMs);
    this.maxDelayMs = Math.max(this.debounceMs, opts.maxDelayMs);
    this.flush = opts.flush;
  }

  push(reason: string, affects?: ProxyPredicate): void {
    const now = Date.now();
    if (!this.pending) {
      this.pending = { reasons: [], predicates: [] };
      this.firstAt = now;
    }
    this.pending.reasons.push(reason);
    if (!affects) this.pending.predicates = undefined;
    else this.pending.predicates?.push(affects);
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstAt + this.maxDelayMs - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Runs a pending push now (tests, shutdown paths). */
  fire(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const push = this.pending;
    this.pending = undefined;
    if (push) this.flush(push);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}

/** Whether a pending push touches this proxy. A predicate that throws counts as "yes". */
export function affects(push: PendingPush, node: ProxyNode): boolean {
  if (!push.predicates) return true;
  return push.predicates.some((p) => {
    try {
      return p(node);
    } catch {
      return true;
    }
  });
}
