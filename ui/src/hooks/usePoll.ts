// Polls a fetcher every `everyMs` (the next request starts only after the previous one
// finished, so a slow control plane is never flooded). Keeps the last good data when a poll
// fails, so the page goes on showing the graph under an "unreachable" banner.
import { useEffect, useRef, useState } from "react";

export interface PollState<T> {
  data: T | undefined;
  error: Error | undefined;
  /** ms epoch of the last successful poll */
  lastOk: number | undefined;
  /** true until the first poll (good or bad) finished */
  loading: boolean;
}

/** `key` restarts polling (and clears data) when it changes; undefined pauses polling. */
export function usePoll<T>(fetcher: (signal: AbortSignal) => Promise<T>, everyMs: number, key: string | undefined = ""): PollState<T> {
  const [state, setState] = useState<PollState<T>>({ data: undefined, error: undefined, lastOk: undefined, loading: true });
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  useEffect(() => {
    setState({ data: undefined, error: undefined, lastOk: undefined, loading: key !== undefined });
    if (key === undefined) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await fetcherRef.current(abort.signal);
        if (abort.signal.aborted) return;
        setState({ data, error: undefined, lastOk: Date.now(), loading: false });
      } catch (err) {
        if (abort.signal.aborted) return;
        setState((s) => ({ ...s, error: err as Error, loading: false }));
      }
      timer = setTimeout(tick, everyMs);
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, everyMs]);

  return state;
}
