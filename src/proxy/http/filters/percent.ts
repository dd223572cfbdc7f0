// Envoy's FractionalPercent, compiled to a fraction, and the per-request draw against it.
import { ConfigInvalid } from "../../state/string-match.ts";

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** FractionalPercent {numerator, denominator} -> [0, 1]; absent means `absent` (0 is the proto default). */
export function compileFraction(p: unknown, field: string, absent = 0): number {
  if (p === undefined || p === null) return absent;
  if (typeof p !== "object") throw new ConfigInvalid(field, "percentage must be an object {numerator, denominator}");
  const { numerator, denominator } = p as { numerator?: unknown; denominator?: unknown };
  const n = numerator === undefined ? 0 : Number(numerator);
  if (!Number.isInteger(n) || n < 0) throw new ConfigInvalid(`${field}.numerator`, `${String(numerator)} is not a non-negative integer`);
  const d = DENOMINATORS[String(denominator ?? "HUNDRED")];
  if (!d) throw new ConfigInvalid(`${field}.denominator`, `unknown denominator ${String(denominator)} (HUNDRED, TEN_THOUSAND or MILLION)`);
  return Math.min(1, n / d); // Envoy caps a numerator above the denominator at 100%
}

/** True for this request with probability `f`; 0 and 1 never draw a random number. */
export function hits(f: number, random: () => number): boolean {
  if (f <= 0) return false;
  if (f >= 1) return true;
  return random() < f;
}
