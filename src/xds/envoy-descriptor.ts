// The pruned JSON descriptor of Envoy's protos (src/xds/envoy-descriptor.json) that
// envoyRoot() loads instead of parsing .proto text at every start-up.
//
// Pruned to what Mizzen can meet: every message, enum and service declared in a file of
// ROOT_FILES (protos.ts, the single source of truth), plus everything their fields,
// methods and enclosing messages reference, transitively. Custom options ("(validate.rules)",
// "(udpa.annotations...)") are dropped: nothing reads them, and they were most of the bulk.
// Built-in options (packed, deprecated, proto3_optional, map_entry) are kept.
//
// Why (bench/memory.ts, one sidecar on examples/bookinfo): see the numbers in protos.ts.
// Regenerate with `npx node scripts/envoy-descriptor.ts` after changing the file list or
// upgrading @grpc/grpc-js-xds; envoy-descriptor.test.ts fails when the committed file is stale.
import protobuf from "protobufjs";
import { parseEnvoyProtos, ROOT_FILES } from "./protos.ts";

/** What envoy-descriptor.json holds: the file list it was built from, and the pruned root. */
export interface EnvoyDescriptor {
  /** Do not edit by hand: written by scripts/envoy-descriptor.ts. */
  generatedBy: string;
  files: string[];
  root: protobuf.INamespace;
}

export const GENERATED_BY = "scripts/envoy-descriptor.ts (npx node scripts/envoy-descriptor.ts)";

type Declared = protobuf.Type | protobuf.Enum | protobuf.Service;

function isDeclared(obj: protobuf.ReflectionObject): obj is Declared {
  return obj instanceof protobuf.Type || obj instanceof protobuf.Enum || obj instanceof protobuf.Service;
}

function* allDeclared(ns: protobuf.NamespaceBase): Generator<Declared> {
  for (const child of ns.nestedArray) {
    if (isDeclared(child)) yield child;
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) yield* allDeclared(child);
  }
}

/** The declared objects reachable from those declared in `files` (paths as in protos.ts). */
function reachable(root: protobuf.Root, files: readonly string[]): Set<Declared> {
  const inListedFile = (obj: Declared) => files.some((f) => obj.filename?.endsWith(`/${f}`) || obj.filename === f);
  const keep = new Set<Declared>();
  const queue: Declared[] = [];
  const add = (obj: protobuf.ReflectionObject | null | undefined) => {
    if (obj && isDeclared(obj) && !keep.has(obj)) {
      keep.add(obj);
      queue.push(obj);
    }
  };
  for (const obj of allDeclared(root)) if (inListedFile(obj)) add(obj);
  while (queue.length) {
    const obj = queue.pop()!;
    add(obj.parent); // a nested type needs its enclosing message (undefined for namespaces)
    if (obj instanceof protobuf.Type) for (const field of obj.fieldsArray) add(field.resolve().resolvedType);
    if (obj instanceof protobuf.Service) {
      for (const method of obj.methodsArray) {
        method.resolve();
        add(method.resolvedRequestType);
        add(method.resolvedResponseType);
      }
    }
  }
  return keep;
}

function builtinOptions(options: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!options) return undefined;
  const kept = Object.entries(options).filter(([k]) => !k.startsWith("("));
  return kept.length ? Object.fromEntries(kept) : undefined;
}

function withoutCustomOptions<T extends { options?: Record<string, unknown> }>(json: T): T {
  const options = builtinOptions(json.options);
  const out = { ...json };
  if (options) out.options = options;
  else delete out.options;
  return out;
}

function pruneJson(obj: protobuf.ReflectionObject, keep: Set<Declared>): protobuf.AnyNestedObject | undefined {
  let nested: Record<string, protobuf.AnyNestedObject> | undefined;
  if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) {
    for (const child of obj.nestedArray) {
      const json = pruneJson(child, keep);
      if (json) (nested ??= {})[child.name] = json;
    }
  }
  if (obj instanceof protobuf.Type) {
    if (!keep.has(obj)) return nested ? { nested } : undefined; // (cannot happen: parents are kept)
    const json = withoutCustomOptions(obj.toJSON() as protobuf.IType & { options?: Record<string, unknown> });
    const fields: Record<string, protobuf.IField> = {};
    for (const [name, field] of Object.entries(json.fields)) fields[name] = withoutCustomOptions(field as protobuf.IField & { options?: Record<string, unknown> });
    json.fields = fields;
    if (json.oneofs) {
      for (const oneof of Object.values(json.oneofs) as { options?: Record<string, unknown> }[]) delete oneof.options;
    }
    delete json.nested;
    if (nested) json.nested = nested;
    return json;
  }
  if (obj instanceof protobuf.Enum || obj instanceof protobuf.Service) {
    if (!keep.has(obj)) return undefined;
    const json = withoutCustomOptions(obj.toJSON() as (protobuf.IEnum | protobuf.IService) & { options?: Record<string, unknown>; valuesOptions?: unknown });
    if ("valuesOptions" in json) delete json.valuesOptions;
    if ("methods" in json) {
      for (const m of Object.values(json.methods) as { options?: Record<string, unknown> }[]) delete m.options;
    }
    return json;
  }
  return nested ? { nested } : undefined; // a package namespace: only if something inside is kept
}

/** Builds the descriptor from a root parsed from the .proto files listed in `files`. */
export function buildEnvoyDescriptor(root: protobuf.Root, files: readonly string[]): EnvoyDescriptor {
  const keep = reachable(root, files);
  const pruned = pruneJson(root, keep) as protobuf.INamespace | undefined;
  return { generatedBy: GENERATED_BY, files: [...files], root: pruned ?? {} };
}

/** The exact text of envoy-descriptor.json for the current ROOT_FILES and installed protos. */
export function envoyDescriptorText(): string {
  return `${JSON.stringify(buildEnvoyDescriptor(parseEnvoyProtos(), ROOT_FILES), null, 1)}\n`;
}
