// Watches a directory of Istio YAML and feeds full re-reads to the ConfigStore.
// - a plain fs.watch on the directory and on each sub-directory (Node's recursive mode on Linux
//   watches files one by one and loses track after an editor's write-temp-then-rename save;
//   a directory watch sees creates, writes, renames and deletes of its entries);
// - bursts of events are debounced (~50 ms) into one re-read, and re-reads never overlap;
// - a slow poll of the directory's identity notices it being deleted and re-created (a watch
//   on a deleted directory goes silent) and re-arms the watch;
// - nothing thrown here escapes: a failed read is logged and the last good config stays.
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { loadConfigDir } from "../api/load.ts";
import type { ConfigError, ConfigObject } from "../api/types.ts";
import { silentLogger } from "../log/logger.ts";
import type { ConfigStore } from "./store.ts";

export interface DirectorySourceOptions {
  dir: string;
  store: ConfigStore;
  logger?: Logger;
  /** Quiet time after the last file event before re-reading. Default 50 ms. */
  debounceMs?: number;
  /** How often to check that the directory still exists and is the same one. Default 1000 ms. */
  pollMs?: number;
  /** Reader, replaceable in tests. Defaults to loadConfigDir. */
  load?: (dir: string) => Promise<{ objects: ConfigObject[]; errors: ConfigError[]; files: string[] }>;
}

export class DirectorySource {
  readonly dir: string;
  #store: ConfigStore;
  #logger: Logger;
  #debounceMs: number;
  #pollMs: number;
  #load: NonNullable<DirectorySourceOptions["load"]>;
  #watchers = new Map<string, FSWatcher>();
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #identity: string | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #reloads = 0;

  constructor(opts: DirectorySourceOptions) {
    this.dir = opts.dir;
    this.#store = opts.store;
    this.#logger = opts.logger ?? silentLogger;
    this.#debounceMs = opts.debounceMs ?? 50;
    this.#pollMs = opts.pollMs ?? 1000;
    this.#load = opts.load ?? loadConfigDir;
  }

  /** Number of completed re-reads (for tests and the debug page). */
  get reloads(): number {
    return this.#reloads;
  }

  /** Reads the directory once, then keeps watching it. */
  async start(): Promise<void> {
    this.#closed = false;
    await this.reload();
    this.#identity = await this.#readIdentity();
    await this.#syncWatches();
    this.#poll = setInterval(() => void this.#checkIdentity(), this.#pollMs);
    this.#poll.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    this.#disarm();
  }

  /** Re-reads now (coalescing with a read already running) and resolves when it is applied. */
  reload(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#readOnce();
        } while (this.#again && !this.#closed);
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  async #readOnce(): Promise<void> {
    try {
      const exists = await stat(this.dir).then((s) => s.isDirectory(), () => false);
      if (!exists) {
        // A vanished folder (mid-rename, or deleted) does not wipe the mesh: keep what is in force.
        if (!this.#closed) {
          this.#store.reportSourceProblem([{ file: this.dir, line: 1, field: "", severity: "error", message: `directory ${this.dir} does not exist (any more); the last good config stays in force until it is back` }]);
        }
        this.#logger.warn({ dir: this.dir }, "config directory is missing; keeping the last good config");
        // Forget the old watches now, so a folder re-created soon after is armed afresh.
        this.#identity = undefined;
        this.#disarm();
        return;
      }
      const result = await this.#load(this.dir);
      if (this.#closed) return;
      const changed = this.#store.update(result);
      this.#reloads++;
      await this.#syncWatches(); // new or removed sub-directories
      this.#logger.debug({ files: result.files.length, objects: result.objects.length, errors: result.errors.length, changed: changed.size }, "config directory read");
    } catch (err) {
      this.#logger.error({ err, dir: this.dir }, "reading the config directory failed; keeping the last good config");
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#debounceMs);
  }

  /** Watches the root and every sub-directory (depth-limited), dropping watches of gone ones. */
  async #syncWatches(): Promise<void> {
    if (this.#closed) return;
    const dirs = new Set<string>();
    const walk = async (d: string, depth: number): Promise<void> => {
      dirs.add(d);
      if (depth >= 8) return;
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith(".")) await walk(join(d, e.name), depth + 1);
    };
    if (await this.#readIdentity()) await walk(this.dir, 0);
    if (this.#closed) return;
    for (const [d, w] of this.#watchers) {
      if (!dirs.has(d)) {
        closeQuietly(w);
        this.#watchers.delete(d);
      }
    }
    for (const d of dirs) {
      if (this.#watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, () => this.#schedule());
        w.on("error", () => {
          // The directory went away; the poll and the next re-read re-arm what exists.
          closeQuietly(w);
          if (this.#watchers.get(d) === w) this.#watchers.delete(d);
          this.#schedule();
        });
        this.#watchers.set(d, w);
      } catch (err) {
        this.#logger.debug({ err, dir: d }, "cannot watch this directory (yet)");
      }
    }
  }

  #disarm(): void {
    for (const w of this.#watchers.values()) closeQuietly(w);
    this.#watchers.clear();
  }

  async #readIdentity(): Promise<string | undefined> {
    try {
      const s = await stat(this.dir);
      // Birth time too: a re-created folder may get the same inode number back.
      return s.isDirectory() ? `${s.dev}:${s.ino}:${s.birthtimeMs}` : undefined;
    } catch {
      return undefined;
    }
  }

  async #checkIdentity(): Promise<void> {
    if (this.#closed) return;
    try {
      const id = await this.#readIdentity();
      if (this.#closed) return;
      if (id !== this.#identity || (id && !this.#watchers.has(this.dir))) {
        this.#identity = id;
        this.#logger.info({ dir: this.dir, present: id !== undefined }, "config directory replaced or reappeared; re-reading");
        this.#disarm();
        await this.#syncWatches();
        this.#schedule();
      }
    } catch (err) {
      this.#logger.error({ err }, "checking the config directory failed");
    }
  }
}

function closeQuietly(w: FSWatcher): void {
  try {
    w.close();
  } catch {
    // a watcher whose directory vanished may throw on close; it is gone either way
  }
}
