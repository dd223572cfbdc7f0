// Defensive readers for config specs. The loader validates objects before they reach us,
// but the registry and translators must still never throw on a surprising shape.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
export function obj(v: unknown): Obj | undefined {
  return isObj(v) ? v : undefined;
}
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function objs(v: unknown): Obj[] {
  return arr(v).filter(isObj);
}
export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
export function strs(v: unknown): string[] {
  return arr(v).filter((x): x is string => typeof x === "string");
}
export function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return undefined;
}
export function bool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}
/** A map of string -> string (labels); non-string values are dropped. */
export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = obj(v);
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) if (typeof val === "string") out[k] = val;
  return out;
}
/** A map of string -> number (WorkloadEntry ports). */
export function numMap(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const o = obj(v);
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) {
    const n = num(val);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/** True when every selector label is present with the same value (empty selector: all). */
export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
