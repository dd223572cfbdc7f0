// Timers for certificate rotation: a timer for an absolute time that survives delays longer
// than setTimeout allows (about 24.8 days overflows to 1 ms), re-reading the clock on the way
// so a suspended host or an injected clock is honoured, and retry backoff with jitter.

/** Longest single setTimeout; a longer wait is taken in steps, re-checking the clock each time. */
const STEP_MS = 60 * 60_000;

export interface AbsoluteTimer {
  cancel(): void;
}

/** Runs `fn` once `now()` has reached `atMs`. Timers are unref'd: they never keep a process alive. */
export function runAt(atMs: number, now: () => number, fn: () => void): AbsoluteTimer {
  let handle: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = (): void => {
    const wait = atMs - now();
    if (wait <= 0) {
      handle = setTimeout(() => cancelled || fn(), 0);
    } else {
      handle = setTimeout(() => cancelled || (wait > STEP_MS ? arm() : fn()), Math.min(wait, STEP_MS));
    }
    handle.unref();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      if (handle) clearTimeout(handle);
    },
  };
}

/** Exponential backoff, capped, with "equal jitter" (half fixed, half random) so sidecars spread out. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * random());
}
