// Istio durations ("10s", "1.5s", "250ms", "1m", "1h", "2h30m") -> protobuf Duration.
import type { Duration } from "../xds/envoy-types.ts";

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };

/** Milliseconds in an Istio duration string, or undefined when it does not parse. */
export function parseDurationMs(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v * 1000; // bare seconds
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched === s.length && matched > 0 ? total : undefined;
}

export function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1_000_000);
  return nanos ? { seconds, nanos } : { seconds };
}

export function toDuration(v: unknown): Duration | undefined {
  const ms = parseDurationMs(v);
  return ms === undefined ? undefined : msToDuration(ms);
}
