// Scrapes every connected sidecar's Prometheus page while someone is looking at the dashboard.
// The first /api/dashboard/* request starts a round every `intervalMs` (2 s); when nobody has
// asked for `idleMs` (60 s) the loop stops and forgets its samples, so an unwatched control
// plane pays nothing. All proxies are fetched in parallel, each with a hard deadline
// (`timeoutMs`, 1 s) and a size cap; a proxy that refuses, hangs or answers something that is
// not Prometheus text is listed in the report and never stops the round.
import http from "node:http";
import type { Logger } from "pino";
import { silentLogger } from "../../log/logger.ts";
import { parsePrometheusText } from "./prometheus-parse.ts";
import { keepSample, snapshotOf, type MetricsSnapshot } from "./mesh-metrics.ts";
import { RateWindow, type WindowSamples } from "./rate-window.ts";
import type { ScrapeReport } from "./contract.ts";
import { METRICS_PATH } from "../../proxy/telemetry/metrics-server.ts";


export interface ScrapeTarget {
  /** The proxy's node id. */
  proxy: string;
  host: string;
  port: number;
}

export interface ScraperOptions {
  /** The proxies to scrape right now (asked at the start of every round). */
  targets(): ScrapeTarget[];
  intervalMs?: number;
  idleMs?: number;
  timeoutMs?: number;
  windowMs?: number;
  /** Pages larger than this are refused (default 16 MiB). */
  maxBytes?: number;
  logger?: Logger;
  now?: () => number;
}

/** GET one page with a deadline for the whole exchange; rejects with a short reason. */
export function fetchMetricsPage(target: ScrapeTarget, timeoutMs: number, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    const req = http.get({ host: target.host, port: target.port, path: METRICS_PATH, agent: false, headers: { host: `${host}:${target.port}`, accept: "text/plain" } });
    let settled = false;
    const finish = (err: (Error & { code?: string }) | undefined, body?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!err) return resolve(body ?? "");
      req.destroy();
      const why = err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
      reject(new Error(`${host}:${target.port}${METRICS_PATH}: ${why}`));
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (err) => finish(err));
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        finish(new Error(`answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) finish(new Error(`page larger than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on("error", (err) => finish(err));
      res.on("end", () => finish(undefined, Buffer.concat(chunks).toString("utf8")));
      res.on("close", () => finish(new Error("the connection closed before the page ended")));
    });
  });
}

/** Reads one proxy's page into the snapshot the rate window keeps. */
export async function scrapeOnce(target: ScrapeTarget, timeoutMs: number, maxBytes: number): Promise<MetricsSnapshot> {
  const text = await fetchMetricsPage(target, timeoutMs, maxBytes);
  try {
    return snapshotOf(parsePrometheusText(text, keepSample));
  } catch (err) {
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    throw new Error(`${host}:${target.port}${METRICS_PATH}: not Prometheus text: ${(err as Error).message}`);
  }
}

export class MetricsScraper {
  private readonly opts: Required<Omit<ScraperOptions, "logger" | "now">>;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly window: RateWindow;
  private lastTouch = 0;
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private firstRound: Promise<void> | undefined;
  private report: ScrapeReport = { proxies: 0, failed: [] };
  /** Completed rounds since the process started (tests wait on it). */
  rounds = 0;

  constructor(opts: ScraperOptions) {
    this.opts = {
      targets: opts.targets,
      intervalMs: opts.intervalMs ?? 2000,
      idleMs: opts.idleMs ?? 60_000,
      timeoutMs: opts.timeoutMs ?? 1000,
      windowMs: opts.windowMs ?? 10_000,
      maxBytes: opts.maxBytes ?? 16 * 1024 * 1024,
    };
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.window = new RateWindow(this.opts.windowMs);
  }

  get windowSeconds(): number {
    return this.opts.windowMs / 1000;
  }

  get active(): boolean {
    return this.running;
  }

  /** Someone looked: keep scraping for another `idleMs`, starting now if stopped. */
  touch(): void {
    if (this.closed) return;
    this.lastTouch = this.now();
    if (this.running) return;
    this.running = true;
    this.window.clear();
    this.report = { proxies: 0, failed: [] };
    this.logger.debug("dashboard: scraping sidecars");
    this.firstRound = this.tick();
  }

  /** Resolves once the current run has finished its first round (at once when stopped). */
  ready(): Promise<void> {
    return this.firstRound ?? Promise.resolve();
  }

  /** The last round's outcome. */
  lastReport(): ScrapeReport {
    return { proxies: this.report.proxies, failed: this.report.failed.map((f) => ({ ...f })) };
  }

  samples(): WindowSamples {
    return this.window.samples();
  }

  close(): void {
    this.closed = true;
    this.running = false;
    clearTimeout(this.timer);
    this.window.clear();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    if (this.now() - this.lastTouch > this.opts.idleMs) {
      this.running = false;
      this.firstRound = undefined;
      this.window.clear();
      this.logger.debug("dashboard: nobody is looking; scraping stopped");
      return;
    }
    const started = this.now();
    await this.round();
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, this.opts.intervalMs - (this.now() - started)));
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const byProxy = new Map<string, ScrapeTarget>();
    try {
      for (const t of this.opts.targets()) byProxy.set(t.proxy, t);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, "dashboard: listing proxies to scrape failed");
    }
    const targets = [...byProxy.values()];
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          const snapshot = await scrapeOnce(t, this.opts.timeoutMs, this.opts.maxBytes);
          return { t, snapshot, at: this.now() };
        } catch (err) {
          return { t, error: (err as Error).message };
        }
      }),
    );
    if (this.closed || !this.running) return;
    const failed: ScrapeReport["failed"] = [];
    for (const r of results) {
      if (r.snapshot) this.window.record(r.t.proxy, r.at, r.snapshot);
      else failed.push({ proxy: r.t.proxy, error: r.error ?? "unknown error" });
    }
    this.window.prune(new Set(byProxy.keys()), this.now());
    if (failed.length > 0) this.logger.debug({ failed }, "dashboard: some sidecars could not be scraped");
    this.report = { proxies: targets.length, failed };
    this.rounds++;
  }
}
