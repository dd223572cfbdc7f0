// Builders for google.protobuf.Struct in protobufjs object form, for Envoy metadata.
import type { Metadata, Struct, StructValue } from "../xds/envoy-types.ts";

export type PlainValue = string | number | boolean | null | PlainValue[] | { [k: string]: PlainValue };

export function toStructValue(v: PlainValue): StructValue {
  if (v === null) return { null_value: "NULL_VALUE" };
  if (typeof v === "string") return { string_value: v };
  if (typeof v === "number") return { number_value: v };
  if (typeof v === "boolean") return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(toStructValue) } };
  return { struct_value: toStruct(v) };
}

export function toStruct(o: { [k: string]: PlainValue }): Struct {
  const fields: Record<string, StructValue> = {};
  for (const k of Object.keys(o).sort()) fields[k] = toStructValue(o[k]);
  return { fields };
}

/** filter_metadata.istio = fields, as Istio marks its generated resources. */
export function istioMetadata(fields: { [k: string]: PlainValue }): Metadata {
  return { filter_metadata: { istio: toStruct(fields) } };
}

/** The "config" path Istio puts in metadata for the object that shaped a resource. */
export function istioConfigPath(kind: "VirtualService" | "DestinationRule", namespace: string, name: string): string {
  const resource = kind === "VirtualService" ? "virtual-service" : "destination-rule";
  return `/apis/networking.istio.io/v1/namespaces/${namespace}/${resource}/${name}`;
}
