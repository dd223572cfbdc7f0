// A constant-rate (open-loop) HTTP/1.1 load client, wrk2-style, for latency at a fixed load:
// requests are due at fixed times (rate per second) whatever the answers do, go out on the
// first free one of N keep-alive connections, and wait in a queue when none is free. Two
// latencies per request: from the moment it was written ("service", what wrk reports) and from
// the moment it was due ("corrected": includes queueing, so a stall is not hidden by the
// client slowing down, the coordinated-omission problem wrk2 fixes).
//
// No wrk2 or h2load on this machine, hence this. Run it as its own process so its event loop
// shares nothing with the benchmark's:  node bench/lib/constant-rate.ts '<options as JSON>'
// prints one JSON line (ConstantRateResult).
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Http1Responses } from "./http1-responses.ts";

export interface ConstantRateOptions {
  host: string;
  port: number;
  /** Request target: "/path", or an absolute URI for a proxy. */
  target: string;
  hostHeader: string;
  connections: number;
  rate: number;
  durationS: number;
  /** A request without an answer this long counts as a timeout (its connection is replaced). */
  timeoutMs?: number;
}

export interface LatencySummary {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface ConstantRateResult {
  /** Requests due in the run (rate x duration). */
  scheduled: number;
  /** Requests answered (any status). */
  completed: number;
  /** Answers that were not 2xx. */
  non2xx: number;
  errors: { connect: number; read: number; timeout: number };
  /** First due time to last answer. */
  durationS: number;
  achievedRps: number;
  service: LatencySummary;
  corrected: LatencySummary;
  /** Connections opened (the N at the start plus replacements). */
  connectionsOpened: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarise(values: Float64Array): LatencySummary {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { p50Ms: percentile(s, 50), p90Ms: percentile(s, 90), p99Ms: percentile(s, 99), maxMs: s.length ? s[s.length - 1]! : NaN, meanMs: s.length ? sum / s.length : NaN };
}

interface Conn {
  socket: Socket;
  ready: boolean;
  /** False once the server announced it closes the connection. */
  reusable: boolean;
  /** The request on the wire: index into the due times, or -1. */
  current: number;
  sentAt: number;
  timer?: NodeJS.Timeout;
}

export function runConstantRate(o: ConstantRateOptions): Promise<ConstantRateResult> {
  const total = Math.round(o.rate * o.durationS);
  const interval = 1000 / o.rate;
  const timeoutMs = o.timeoutMs ?? 5000;
  const request = Buffer.from(`GET ${o.target} HTTP/1.1\r\nHost: ${o.hostHeader}\r\nUser-Agent: mizzen-bench\r\n\r\n`, "latin1");
  const service = new Float64Array(total);
  const corrected = new Float64Array(total);
  const queue: number[] = [];
  let queueHead = 0;
  const conns: Conn[] = [];
  const errors = { connect: 0, read: 0, timeout: 0 };
  let completed = 0;
  let non2xx = 0;
  let finished = 0;
  let answered = 0;
  let opened = 0;
  let due = 0;
  let start = 0;
  let lastAnswer = 0;
  let ticker: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let done: (r: ConstantRateResult) => void = () => {};
  let stopped = false;

  const dueAt = (i: number) => start + i * interval;

  const settle = (c: Conn) => {
    if (c.timer) clearTimeout(c.timer);
    c.timer = undefined;
    c.current = -1;
    finished++;
    if (finished === total) finish();
    else dispatch();
  };

  const open = (): Conn => {
    opened++;
    const socket = connect({ host: o.host, port: o.port, noDelay: true });
    const c: Conn = { socket, ready: false, reusable: true, current: -1, sentAt: 0 };
    const reader = new Http1Responses((status, close) => {
      const now = performance.now();
      if (c.current < 0) return; // an answer nobody asked for: ignore
      service[answered] = now - c.sentAt;
      corrected[answered] = now - dueAt(c.current);
      answered++;
      completed++;
      lastAnswer = now;
      if (status < 200 || status >= 300) non2xx++;
      if (close) {
        c.ready = false; // no further request on it; its close opens a replacement
        c.reusable = false;
        socket.end();
      }
      settle(c);
    });
    socket.on("connect", () => {
      c.ready = true;
      dispatch();
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      const i = conns.indexOf(c);
      if (i >= 0) conns.splice(i, 1);
      if (!c.ready && c.reusable) errors.connect++;
      if (c.current >= 0) {
        errors.read++;
        settle(c);
      }
      if (stopped) return;
      // A refused connection is retried after a pause, not in a tight loop.
      if (c.ready || !c.reusable) conns.push(open());
      else setTimeout(() => stopped || conns.push(open()), 50);
    });
    return c;
  };

  const dispatch = () => {
    for (const c of conns) {
      if (queueHead >= queue.length) return;
      if (!c.ready || c.current >= 0) continue;
      c.current = queue[queueHead++]!;
      c.sentAt = performance.now();
      c.timer = setTimeout(() => {
        errors.timeout++;
        const was = c.current;
        c.current = -1; // the close handler must not count it again
        if (was >= 0) {
          finished++;
          if (finished === total) finish();
        }
        c.socket.destroy();
      }, timeoutMs);
      c.socket.write(request);
    }
  };

  const tick = () => {
    const now = performance.now();
    while (due < total && dueAt(due) <= now) queue.push(due++);
    dispatch();
    // Timers fire a millisecond or so late; the requests due meanwhile go out together.
    if (due < total) ticker = setTimeout(tick, Math.max(0, dueAt(due) - performance.now()));
  };

  const finish = () => {
    if (stopped) return;
    stopped = true;
    if (ticker) clearTimeout(ticker);
    if (deadline) clearTimeout(deadline);
    for (const c of conns) {
      if (c.timer) clearTimeout(c.timer);
      c.socket.destroy();
    }
    const durationS = (lastAnswer - start) / 1000;
    done({
      scheduled: total,
      completed,
      non2xx,
      errors,
      durationS,
      achievedRps: durationS > 0 ? completed / durationS : 0,
      service: summarise(service.subarray(0, answered)),
      corrected: summarise(corrected.subarray(0, answered)),
      connectionsOpened: opened,
    });
  };

  return new Promise((resolve, reject) => {
    done = resolve;
    if (!(total > 0) || !(o.connections > 0)) {
      reject(new Error(`nothing to send: rate ${o.rate} x ${o.durationS} s on ${o.connections} connections`));
      return;
    }
    for (let i = 0; i < o.connections; i++) conns.push(open());
    // Start the clock once every connection is up, so connecting is not counted as latency.
    const waitConnected = () => {
      if (conns.length === o.connections && conns.every((c) => c.ready)) {
        start = performance.now();
        // Bounded whatever the server does: what has not ended by then counts as timed out.
        deadline = setTimeout(() => {
          errors.timeout += total - finished;
          finish();
        }, o.durationS * 1000 + timeoutMs + 5000);
        tick();
      } else if (errors.connect > o.connections * 3) {
        stopped = true;
        for (const c of conns) c.socket.destroy();
        reject(new Error(`cannot connect to ${o.host}:${o.port}`));
      } else setTimeout(waitConnected, 5);
    };
    waitConnected();
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = JSON.parse(process.argv[2] ?? "{}") as ConstantRateOptions;
  const result = await runConstantRate(opts);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
