// A bounded queue of finished spans for one provider, sent in batches: when `maxBatch` spans
// wait, or `flushMs` after the first one queued, one batch at a time (a slow collector holds
// the queue, never the requests). A full queue drops new spans and counts them; so does a
// failed send. No timer runs while the queue is empty.
import type { SpanRecord } from "./span-record.ts";

export interface BatcherOptions {
  /** Sends one batch; resolves true when the collector accepted it. Must not reject. */
  send(spans: SpanRecord[]): Promise<boolean>;
  /** Counts by name: spans_sent, spans_dropped, reports_sent, reports_failed, timer_flushed. */
  count(name: string, by?: number): void;
  maxQueue?: number;
  maxBatch?: number;
  flushMs?: number;
}

export const DEFAULT_MAX_QUEUE = 2048;
export const DEFAULT_MAX_BATCH = 512;
export const DEFAULT_FLUSH_MS = 1000;

export class SpanBatcher {
  private queue: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private readonly o: Required<BatcherOptions>;

  constructor(o: BatcherOptions) {
    this.o = { maxQueue: DEFAULT_MAX_QUEUE, maxBatch: DEFAULT_MAX_BATCH, flushMs: DEFAULT_FLUSH_MS, ...o };
  }

  /** Queues a span; false (and counted) when the queue is full. */
  add(span: SpanRecord): boolean {
    if (this.queue.length >= this.o.maxQueue) {
      this.o.count("spans_dropped");
      return false;
    }
    this.queue.push(span);
    if (this.queue.length >= this.o.maxBatch) this.kick();
    else this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.o.count("timer_flushed");
      this.kick();
    }, this.o.flushMs);
    this.timer.unref();
  }

  get queued(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
      // Spans that arrived while sending wait for their own timer, or go now if a batch is full.
      if (this.queue.length >= this.o.maxBatch) this.kick();
      else this.schedule();
    });
  }

  private async drain(): Promise<void> {
    const batch = this.queue.splice(0, this.o.maxBatch);
    let ok = false;
    try {
      ok = await this.o.send(batch);
    } catch {
      ok = false;
    }
    if (ok) {
      this.o.count("reports_sent");
      this.o.count("spans_sent", batch.length);
    } else {
      this.o.count("reports_failed");
      this.o.count("spans_dropped", batch.length);
    }
  }

  /** Sends everything queued now (shutdown, tests); resolves when the queue is empty or stuck. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (let guard = 0; guard < 1000; guard++) {
      if (this.sending) await this.sending;
      else if (this.queue.length > 0) this.sending = this.drain().finally(() => (this.sending = undefined));
      else return;
    }
  }
}
