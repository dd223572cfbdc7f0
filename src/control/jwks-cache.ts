// The control plane's JWKS fetcher, as istiod's jwksResolver with PILOT_JWT_ENABLE_REMOTE_JWKS
// off: the control plane fetches each jwksUri, the translator inlines the keys (local_jwks),
// and proxies never fetch anything.
// - get(uri) answers from memory at once; the first call starts a fetch and answers undefined;
//   onChange fires when what get() answers changes (keys arrive or change, a first failure), so
//   the caller re-translates and pushes;
// - every entry is fetched again each refreshMs (20 min, istiod's default); a failing fetch is
//   retried with backoff from retryMs, and the last good keys stay in force meanwhile (one
//   warning until it recovers);
// - a URI ending in /.well-known/openid-configuration is an OpenID discovery document: its
//   jwks_uri is read and fetched (istiod does this when a rule gives an issuer but no jwksUri);
// - only http(s); bodies over maxBytes, non-2xx answers and anything but a JWKS with keys are
//   failures; nothing here throws.
import type { Logger } from "pino";
import { isDiscoveryUrl } from "../translate/jwt.ts";

export type JwksAnswer = { jwks: string } | { error: string };

export interface JwksCacheOptions {
  fetch?: typeof fetch;
  /** How often keys are fetched again (default 20 minutes). */
  refreshMs?: number;
  /** First retry after a failed fetch; doubles up to refreshMs (default 1 s). */
  retryMs?: number;
  /** Per request (default 5 s, istiod's jwtRule timeout default). */
  timeoutMs?: number;
  /** Largest body accepted (default 512 KiB). */
  maxBytes?: number;
  onChange: () => void;
  logger?: Logger;
  now?: () => number;
}

interface Entry {
  readonly uri: string;
  answer: JwksAnswer | undefined;
  /** The last good keys (kept through failed refreshes). */
  good: string | undefined;
  fetchedAt: number | undefined;
  failures: number;
  warned: boolean;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
}

/** What /debug can show per URI. */
export interface JwksEntryStatus {
  uri: string;
  state: "pending" | "ok" | "failing" | "error";
  fetchedAt?: number;
  error?: string;
}

const DEFAULTS = { refreshMs: 20 * 60_000, retryMs: 1000, timeoutMs: 5000, maxBytes: 512 * 1024 };

class FetchFailure extends Error {}

export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetchFn: typeof fetch;
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly onChange: () => void;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private closed = false;

  constructor(opts: JwksCacheOptions) {
    this.fetchFn = opts.fetch ?? fetch;
    this.refreshMs = opts.refreshMs ?? DEFAULTS.refreshMs;
    this.retryMs = Math.min(opts.retryMs ?? DEFAULTS.retryMs, this.refreshMs);
    this.timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
    this.maxBytes = opts.maxBytes ?? DEFAULTS.maxBytes;
    this.onChange = opts.onChange;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  /** The keys for `uri`, its failure, or undefined while the first fetch runs. */
  get(uri: string): JwksAnswer | undefined {
    const e = this.entries.get(uri);
    if (e) return e.answer;
    if (this.closed) return { error: "the JWKS cache is closed" };
    const entry: Entry = { uri, answer: undefined, good: undefined, fetchedAt: undefined, failures: 0, warned: false, timer: undefined, abort: undefined };
    this.entries.set(uri, entry);
    void this.refresh(entry);
    return undefined;
  }

  /** Forgets every URI not in `inUse` (a config change removed its rules). */
  prune(inUse: ReadonlySet<string>): void {
    for (const [uri, e] of this.entries) {
      if (inUse.has(uri)) continue;
      this.stop(e);
      this.entries.delete(uri);
    }
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) this.stop(e);
    this.entries.clear();
  }

  status(): JwksEntryStatus[] {
    return [...this.entries.values()].map((e) => ({
      uri: e.uri,
      state: e.answer === undefined ? "pending" : "error" in e.answer ? "error" : e.failures > 0 ? "failing" : "ok",
      ...(e.fetchedAt !== undefined ? { fetchedAt: e.fetchedAt } : {}),
      ...(e.answer && "error" in e.answer ? { error: e.answer.error } : {}),
    }));
  }

  private stop(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    e.abort?.abort();
    e.abort = undefined;
  }

  private schedule(e: Entry, ms: number): void {
    if (this.closed || this.entries.get(e.uri) !== e) return;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      void this.refresh(e);
    }, ms);
    e.timer.unref();
  }

  private async refresh(e: Entry): Promise<void> {
    const abort = new AbortController();
    e.abort = abort;
    let result: { jwks: string } | { error: string };
    try {
      result = { jwks: await this.load(e.uri, abort.signal) };
    } catch (err) {
      result = { error: err instanceof FetchFailure ? err.message : `fetch failed: ${(err as Error)?.message ?? String(err)}` };
    }
    if (abort.signal.aborted || this.entries.get(e.uri) !== e) return; // pruned or closed meanwhile
    e.abort = undefined;
    const before = e.answer;
    if ("jwks" in result) {
      if (e.warned) this.logger?.info({ uri: e.uri }, "JWKS fetch recovered");
      e.failures = 0;
      e.warned = false;
      e.good = result.jwks;
      e.fetchedAt = this.now();
      e.answer = before && "jwks" in before && before.jwks === result.jwks ? before : Object.freeze(result);
      this.schedule(e, this.refreshMs);
    } else {
      e.failures++;
      if (!e.warned) {
        e.warned = true;
        this.logger?.warn({ uri: e.uri, error: result.error }, e.good !== undefined
          ? "JWKS refresh failed; keeping the last good keys"
          : "JWKS fetch failed; tokens of this issuer are rejected until it succeeds");
      }
      if (e.good === undefined) e.answer = before && "error" in before ? before : Object.freeze(result);
      this.schedule(e, Math.min(this.refreshMs, this.retryMs * 2 ** Math.min(e.failures - 1, 20)));
    }
    if (e.answer !== before) {
      try {
        this.onChange();
      } catch (err) {
        this.logger?.error({ err }, "JWKS onChange callback threw");
      }
    }
  }

  private async load(uri: string, signal: AbortSignal): Promise<string> {
    if (!isDiscoveryUrl(uri)) return normalizeJwks(await this.body(uri, signal));
    let doc: unknown;
    try {
      doc = JSON.parse(await this.body(uri, signal));
    } catch (err) {
      if (err instanceof FetchFailure) throw err;
      throw new FetchFailure(`the OpenID discovery document at ${uri} is not JSON`);
    }
    const jwksUri = (doc as { jwks_uri?: unknown } | null)?.jwks_uri;
    if (typeof jwksUri !== "string" || jwksUri === "") throw new FetchFailure(`the OpenID discovery document at ${uri} has no jwks_uri`);
    return normalizeJwks(await this.body(jwksUri, signal));
  }

  /** GET `uri`, bounded in time and size. */
  private async body(uri: string, signal: AbortSignal): Promise<string> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new FetchFailure(`"${uri}" is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new FetchFailure(`"${uri}" is not an http or https URL`);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(url, { signal: AbortSignal.any([signal, timeout]), headers: { accept: "application/json" }, redirect: "follow" });
    } catch (err) {
      if (timeout.aborted) throw new FetchFailure(`GET ${uri} timed out after ${this.timeoutMs} ms`);
      const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
      throw new FetchFailure(`GET ${uri} failed: ${cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err)}`);
    }
    try {
      if (!res.ok) throw new FetchFailure(`GET ${uri} answered HTTP ${res.status}`);
      const declared = Number(res.headers.get("content-length"));
      if (declared > this.maxBytes) throw new FetchFailure(`GET ${uri}: body of ${declared} bytes is over the ${this.maxBytes}-byte limit`);
      return await this.readBounded(res, uri);
    } catch (err) {
      await res.body?.cancel().catch(() => {});
      if (err instanceof FetchFailure) throw err;
      if (timeout.aborted) throw new FetchFailure(`GET ${uri} timed out after ${this.timeoutMs} ms`);
      throw new FetchFailure(`GET ${uri}: reading the body failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private async readBounded(res: Response, uri: string): Promise<string> {
    if (!res.body) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > this.maxBytes) throw new FetchFailure(`GET ${uri}: body is over the ${this.maxBytes}-byte limit`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

/** A fetched body as the compact JWKS text to inline; throws FetchFailure when it is not one. */
export function normalizeJwks(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FetchFailure(`the answer is not JSON (starts with ${JSON.stringify(text.slice(0, 40))})`);
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new FetchFailure('the answer is not a JWKS: no "keys" list');
  if (keys.length === 0) throw new FetchFailure("the JWKS has no keys");
  keys.forEach((k, i) => {
    if (typeof k !== "object" || k === null || typeof (k as { kty?: unknown }).kty !== "string") throw new FetchFailure(`key ${i} of the JWKS has no "kty"`);
  });
  return JSON.stringify({ keys });
}
