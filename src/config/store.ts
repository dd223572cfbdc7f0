// The config store: the accepted objects, with the LAST GOOD version of each kept in force when
// an edit breaks it. Sources feed it full re-reads; it tells listeners which keys changed, and
// only when the effective set changed (a no-op save pushes nothing).
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { configKey, formatConfigError } from "../api/types.ts";
import type { ConfigError, ConfigKey, ConfigObject, KnownKind } from "../api/types.ts";
import { silentLogger } from "../log/logger.ts";

export type ObjectState = "accepted" | "rejected-kept-last-good" | "rejected";

export interface ObjectStatus {
  key: ConfigKey;
  kind: string;
  namespace: string;
  name: string;
  file: string;
  line: number;
  state: ObjectState;
  /** Errors and warnings of the current version in the files (empty when clean). */
  errors: ConfigError[];
  /** When the version in force was accepted (ms since epoch); undefined if none ever was. */
  acceptedAt?: number;
}

export type ChangeListener = (changed: ReadonlySet<ConfigKey>, version: number) => void;

interface Entry {
  status: ObjectStatus;
  /** The version in force (undefined for "rejected"). */
  object?: ConfigObject;
}

/** The error's object key, when the YAML was readable enough to name kind and name. */
export function errorKey(e: ConfigError): ConfigKey | undefined {
  if (!e.kind || !e.name) return undefined;
  return configKey({ kind: e.kind, metadata: { namespace: e.namespace ?? "default", name: e.name } });
}

export class ConfigStore {
  #entries = new Map<ConfigKey, Entry>();
  #fileErrors: ConfigError[] = [];
  #sourceProblem: ConfigError[] = [];
  #listeners: ChangeListener[] = [];
  #version = 0;
  #logger: Logger;
  #now: () => number;

  constructor(opts: { logger?: Logger; now?: () => number } = {}) {
    this.#logger = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
  }

  /** Increases by one on every effective change. */
  get version(): number {
    return this.#version;
  }

  /** Registers a listener for effective changes; returns a function that removes it. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Applies a full re-read of the source. Returns the keys whose effective object changed. */
  update(result: { objects: ConfigObject[]; errors: ConfigError[] }): ReadonlySet<ConfigKey> {
    const fresh = new Map<ConfigKey, ConfigObject>();
    for (const o of result.objects) if (!fresh.has(configKey(o))) fresh.set(configKey(o), o);
    const errorsByKey = new Map<ConfigKey, ConfigError[]>();
    const fileErrors: ConfigError[] = [];
    for (const e of result.errors) {
      const key = errorKey(e);
      // A warning about a kind Mizzen ignores has a name but no object of ours: file-level.
      if (!key || (e.severity === "warning" && !fresh.has(key) && !this.#entries.has(key))) fileErrors.push(e);
      else errorsByKey.set(key, [...(errorsByKey.get(key) ?? []), e]);
    }
    const changed = new Set<ConfigKey>();
    const next = new Map<ConfigKey, Entry>();
    const keys = new Set<ConfigKey>([...this.#entries.keys(), ...fresh.keys(), ...errorsByKey.keys()]);
    for (const key of keys) {
      const old = this.#entries.get(key);
      const errors = errorsByKey.get(key) ?? [];
      const now = fresh.get(key);
      const hasError = errors.some((e) => e.severity === "error");
      if (now) {
        const same = old?.object !== undefined && sameObject(old.object, now);
        if (!same) changed.add(key);
        next.set(key, {
          object: now,
          status: statusFor(key, now, "accepted", errors, same ? old!.status.acceptedAt : this.#now()),
        });
      } else if (hasError) {
        const first = errors.find((e) => e.severity === "error")!;
        const pos = { file: first.file, line: first.line };
        if (old?.object) {
          next.set(key, { object: old.object, status: { ...statusFor(key, old.object, "rejected-kept-last-good", errors, old.status.acceptedAt), ...pos } });
        } else {
          next.set(key, { status: { ...statusFor(key, undefined, "rejected", errors, undefined), ...pos } });
        }
      } else if (old?.object) {
        changed.add(key); // removed from the files
      }
      // Say each problem once per new set of messages, not on every re-read of the folder.
      const status = next.get(key)?.status;
      if (status && errorText(old?.status.errors) !== errorText(status.errors)) {
        const kept = status.state === "rejected-kept-last-good" ? " (the last good version stays in force)" : "";
        for (const e of status.errors) this.#logger.warn({ object: key }, `${formatConfigError(e)}${kept}`);
      }
    }
    this.#entries = next;
    this.#fileErrors = fileErrors;
    this.#sourceProblem = [];
    if (changed.size > 0) {
      this.#version++;
      for (const listener of [...this.#listeners]) {
        try {
          listener(changed, this.#version);
        } catch (err) {
          this.#logger.error({ err }, "config change listener failed");
        }
      }
    }
    return changed;
  }

  /** The source cannot be read right now (e.g. its folder vanished): keep everything in force. */
  reportSourceProblem(errors: ConfigError[]): void {
    this.#sourceProblem = errors;
  }

  /** The objects in force (accepted or last good), sorted by key. */
  objects(): ConfigObject[] {
    return [...this.#entries.entries()]
      .filter(([, e]) => e.object)
      .sort(([a], [b]) => compare(a, b))
      .map(([, e]) => e.object!);
  }

  get(key: ConfigKey): ConfigObject | undefined {
    return this.#entries.get(key)?.object;
  }

  status(): ObjectStatus[] {
    return [...this.#entries.entries()].sort(([a], [b]) => compare(a, b)).map(([, e]) => e.status);
  }

  /** Errors not tied to one object: YAML syntax, unreadable files, ignored kinds, a missing folder. */
  fileErrors(): ConfigError[] {
    return [...this.#sourceProblem, ...this.#fileErrors];
  }
}

function statusFor(key: ConfigKey, o: ConfigObject | undefined, state: ObjectState, errors: ConfigError[], acceptedAt: number | undefined): ObjectStatus {
  const [kind = "", namespace = "", ...rest] = key.split("/");
  const s: ObjectStatus = {
    key,
    kind: (o?.kind as KnownKind | undefined) ?? kind,
    namespace,
    name: rest.join("/"),
    file: o?.source.file ?? "",
    line: o?.source.line ?? 0,
    state,
    errors,
  };
  if (acceptedAt !== undefined) s.acceptedAt = acceptedAt;
  return s;
}

/** Equal for the mesh: same kind, version, metadata and spec (the file position may move). */
function sameObject(a: ConfigObject, b: ConfigObject): boolean {
  return a.kind === b.kind && a.apiVersion === b.apiVersion && isDeepStrictEqual(a.metadata, b.metadata) && isDeepStrictEqual(a.spec, b.spec);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errorText(errors: readonly ConfigError[] | undefined): string {
  return (errors ?? []).map(formatConfigError).join("\n");
}
