// google.protobuf.Struct in protobufjs object form <-> plain JSON values. Node metadata and
// Envoy filter metadata travel as Structs.
import type { Struct, StructValue } from "./envoy-types.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toValue(v: unknown): StructValue {
  if (v === null || v === undefined) return { null_value: "NULL_VALUE" };
  if (typeof v === "boolean") return { bool_value: v };
  if (typeof v === "number") return Number.isFinite(v) ? { number_value: v } : { string_value: String(v) };
  if (typeof v === "string") return { string_value: v };
  if (typeof v === "bigint") return { string_value: v.toString() };
  if (Array.isArray(v)) return { list_value: { values: v.map(toValue) } };
  if (typeof v === "object") return { struct_value: toStruct(v as Record<string, unknown>) };
  return { string_value: String(v) };
}

/** A JSON object -> Struct. Non-JSON values (functions, NaN) become strings, never throw. */
export function toStruct(json: Record<string, unknown>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(json ?? {})) {
    if (v !== undefined) fields[k] = toValue(v);
  }
  return { fields };
}

/** One Struct Value -> JSON. Unrecognised shapes become null. */
export function fromValue(v: StructValue | undefined | null): Json {
  if (!v || typeof v !== "object") return null;
  if (v.string_value !== undefined) return v.string_value;
  if (v.number_value !== undefined) return v.number_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.struct_value !== undefined) return fromStruct(v.struct_value);
  if (v.list_value !== undefined) return (v.list_value.values ?? []).map(fromValue);
  return null;
}

/** Struct -> JSON object. Accepts undefined or a Struct without fields (empty object). */
export function fromStruct(struct: Struct | undefined | null): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  const fields = struct && typeof struct === "object" ? struct.fields : undefined;
  if (!fields || typeof fields !== "object") return out;
  for (const [k, v] of Object.entries(fields)) out[k] = fromValue(v);
  return out;
}
