// Translations shared between proxies within one version of the control plane's state.
// Proxies whose views of a resource type are equal get the very same (frozen) resource
// objects, so the ADS server's per-object encode cache hits instead of checking and encoding
// the same content once per proxy.
//
// The memo's key is only the resource type and the view key; the rest of the input (config
// objects, registry, mesh config) is the state version the memo belongs to. The owner must
// drop the memo whenever any of those change (MeshState keeps it beside the registry).

/** Freezes a resource and everything reachable from it: shared objects must never change. */
export function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen (and translators do not produce them).
  if (value === null || typeof value !== "object" || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}

export class TranslationMemo {
  private readonly entries = new Map<string, readonly object[]>();
  private hitCount = 0;

  /**
   * The resources of `type` for proxies whose view key is `viewKey`: computed on the first
   * call, frozen, and the same array of the same objects on every later call.
   */
  get<T extends object>(type: string, viewKey: string, compute: () => T[]): readonly T[] {
    const key = `${type}\n${viewKey}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.hitCount++;
      return hit as readonly T[];
    }
    const made = deepFreeze(compute());
    this.entries.set(key, made);
    return made;
  }

  /** How many distinct (type, view) translations are held, and how many calls were shared. */
  stats(): { entries: number; hits: number } {
    return { entries: this.entries.size, hits: this.hitCount };
  }
}
