// Strict check of an object-form message (envoy-types.ts) against its protobufjs type before
// encoding. protobufjs's fromObject silently drops unknown fields and coerces wrong types;
// a translator bug would then ship a quietly different config. This walk rejects instead,
// naming the field path and the reason.
import protobuf from "protobufjs";

const MAX_DEPTH = 64;
const INT32 = new Set(["int32", "sint32", "sfixed32"]);
const UINT32 = new Set(["uint32", "fixed32"]);
const INT64 = new Set(["int64", "sint64", "sfixed64", "uint64", "fixed64"]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

function checkScalar(kind: string, v: unknown, path: string): string | null {
  if (kind === "string") return typeof v === "string" ? null : `${path}: expected a string, got ${describe(v)}`;
  if (kind === "bool") return typeof v === "boolean" ? null : `${path}: expected true or false, got ${describe(v)}`;
  if (kind === "double" || kind === "float") return typeof v === "number" ? null : `${path}: expected a number, got ${describe(v)}`;
  if (INT32.has(kind) || UINT32.has(kind)) {
    if (typeof v !== "number" || !Number.isInteger(v)) return `${path}: expected an integer, got ${describe(v)}`;
    const min = UINT32.has(kind) ? 0 : -0x80000000;
    const max = UINT32.has(kind) ? 0xffffffff : 0x7fffffff;
    return v < min || v > max ? `${path}: ${v} is out of range for ${kind}` : null;
  }
  if (INT64.has(kind)) {
    if (typeof v === "number" && Number.isInteger(v)) return kind.startsWith("u") || kind === "fixed64" ? (v < 0 ? `${path}: ${v} is negative for ${kind}` : null) : null;
    if (typeof v === "string" && /^-?\d+$/.test(v)) return null;
    return `${path}: expected an integer (number or decimal string), got ${describe(v)}`;
  }
  if (kind === "bytes") {
    if (v instanceof Uint8Array) return null;
    if (typeof v === "string" && /^[A-Za-z0-9+/=_-]*$/.test(v)) return null;
    return `${path}: expected bytes (Buffer or base64 string), got ${describe(v)}`;
  }
  return `${path}: unsupported field kind ${kind}`;
}

function checkAny(anyType: protobuf.Type, v: Record<string, unknown>, path: string, depth: number): string | null {
  const typeUrl = v["@type"];
  if (typeUrl === undefined) {
    // Raw form { type_url, value }: accepted as protobufjs would encode it.
    const rest: Record<string, unknown> = { ...v };
    return checkMessage(anyType, rest, path, depth + 1);
  }
  if (typeof typeUrl !== "string" || !typeUrl.includes("/")) return `${path}["@type"]: expected a type URL like "type.googleapis.com/envoy...", got ${describe(typeUrl)}`;
  let inner: protobuf.Type | undefined;
  try {
    const found = anyType.root.lookup(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
    inner = found instanceof protobuf.Type ? found : undefined;
  } catch {
    inner = undefined;
  }
  if (!inner) return `${path}["@type"]: unknown type ${JSON.stringify(typeUrl)}; Mizzen only encodes Envoy types it loads (see xds/protos.ts)`;
  const rest: Record<string, unknown> = { ...v };
  delete rest["@type"];
  return checkMessage(inner, rest, `${path}<${inner.name}>`, depth + 1);
}

function checkValue(field: protobuf.Field, v: unknown, path: string, depth: number): string | null {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    if (typeof v === "string") {
      return v in resolved.values ? null : `${path}: ${JSON.stringify(v)} is not one of ${Object.keys(resolved.values).join(", ")}`;
    }
    return typeof v === "number" && Number.isInteger(v) ? null : `${path}: expected an enum name (${Object.keys(resolved.values).slice(0, 6).join(", ")}...), got ${describe(v)}`;
  }
  if (resolved instanceof protobuf.Type) {
    if (!isPlainObject(v)) return `${path}: expected an object (${resolved.name}), got ${describe(v)}`;
    if (resolved.fullName === ".google.protobuf.Any") return checkAny(resolved, v, path, depth);
    return checkMessage(resolved, v, path, depth + 1);
  }
  return checkScalar(field.type, v, path);
}

/** Null when `value` fits `type`; else a message naming the first bad field path. */
export function checkMessage(type: protobuf.Type, value: unknown, path: string, depth = 0): string | null {
  if (depth > MAX_DEPTH) return `${path}: nested more than ${MAX_DEPTH} levels (a cycle?)`;
  if (!isPlainObject(value)) return `${path}: expected an object (${type.name}), got ${describe(value)}`;
  const seenOneofs = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    const field = type.fields[key];
    const at = `${path}.${key}`;
    if (!field) {
      const hint = Object.keys(type.fields).slice(0, 12).join(", ");
      return `${at}: unknown field of ${type.name} (fields: ${hint}${Object.keys(type.fields).length > 12 ? ", ..." : ""}; names are snake_case)`;
    }
    if (field.partOf) {
      const other = seenOneofs.get(field.partOf.name);
      if (other) return `${at}: ${key} and ${other} are alternatives (oneof ${field.partOf.name}); set only one`;
      seenOneofs.set(field.partOf.name, key);
    }
    if (field.map) {
      if (!isPlainObject(v)) return `${at}: expected a map object, got ${describe(v)}`;
      for (const [k, item] of Object.entries(v)) {
        const problem = checkValue(field, item, `${at}[${JSON.stringify(k)}]`, depth);
        if (problem) return problem;
      }
    } else if (field.repeated) {
      if (!Array.isArray(v)) return `${at}: expected a list, got ${describe(v)}`;
      for (let i = 0; i < v.length; i++) {
        const problem = checkValue(field, v[i], `${at}[${i}]`, depth);
        if (problem) return problem;
      }
    } else {
      const problem = checkValue(field, v, at, depth);
      if (problem) return problem;
    }
  }
  return null;
}
