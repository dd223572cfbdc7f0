// Schema validation through the generated @kubernetes-models/istio models (Istio's CRD OpenAPI
// schemas checked by Ajv), with Ajv's errors turned into field paths and sentences a person
// can act on.
import type { SchemaModel } from "./kinds.ts";
import type { PathSegment } from "./yaml.ts";

export interface Issue {
  path: PathSegment[];
  message: string;
  severity?: "error" | "warning";
}

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  schema?: unknown;
  data?: unknown;
}

/** Runs the model's validate() on `value` (apiVersion rewritten to the model's own). */
export function validateWithModel(model: SchemaModel, value: Record<string, unknown>): Issue[] {
  try {
    new model({ ...value, apiVersion: model.apiVersion } as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: AjvError[] })?.errors;
    if (!Array.isArray(errors)) return [{ path: [], message: `schema check failed: ${(e as Error)?.message ?? String(e)}` }];
    return translateAjvErrors(errors, value);
  }
}

export function translateAjvErrors(errors: AjvError[], root: unknown): Issue[] {
  // A failed oneOf reports every branch's failure too; keep only our one-line summary of it.
  const oneOfPaths = errors.filter((e) => e.keyword === "oneOf").map((e) => e.schemaPath + "/");
  const out: Issue[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    if (oneOfPaths.some((p) => err.schemaPath.startsWith(p))) continue;
    const path = toPath(err.instancePath, root);
    let message: string;
    if (err.keyword === "required") {
      path.push(String(err.params.missingProperty));
      message = "is required";
    } else {
      message = describe(err);
    }
    const id = `${path.join("/")}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ path, message });
  }
  return out;
}

function describe(err: AjvError): string {
  const got = `(got ${show(err.data)})`;
  switch (err.keyword) {
    case "type": {
      const want = String(err.params.type);
      if (want === "integer" && typeof err.data === "number") return `must be a whole number ${got}`;
      if (want === "array") return `must be a list ${got}; write each item on its own line starting with "- "`;
      if (want === "object") return `must be a map of fields ${got}`;
      if (want === "string" && (typeof err.data === "number" || typeof err.data === "boolean")) {
        return `must be a string ${got}; quote it: "${String(err.data)}"`;
      }
      return `must be ${article(want)} ${got}`;
    }
    case "enum": {
      const allowed = (err.params.allowedValues as unknown[] | undefined) ?? [];
      return `must be one of ${allowed.map((v) => String(v)).join(", ")} ${got}`;
    }
    case "oneOf":
      return describeOneOf(err);
    case "format": {
      const f = String(err.params.format);
      if (/^u?int(32|64)$/.test(f)) return `must be a whole number that fits in ${f} ${got}`;
      return `must be a valid ${f} ${got}`;
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `${err.message ?? "is out of range"} ${got}`;
    case "additionalProperties":
      return `unknown field "${String(err.params.additionalProperty)}"; remove it or check its spelling`;
    default:
      return `${err.message ?? "is invalid"} ${got}`;
  }
}

/** Istio's schemas write "one of these fields" as oneOf over `required` branches. */
function describeOneOf(err: AjvError): string {
  const names = new Set<string>();
  collectRequired(err.schema, names, 0);
  const data = err.data && typeof err.data === "object" ? (err.data as Record<string, unknown>) : {};
  const present = [...names].filter((n) => Object.hasOwn(data, n));
  if (names.size === 0) return "does not match any allowed form";
  if (present.length > 1) return `set only one of ${[...names].join(", ")} (found ${present.join(" and ")}); remove all but one`;
  return `set exactly one of ${[...names].join(", ")}`;
}

function collectRequired(schema: unknown, into: Set<string>, depth: number): void {
  if (depth > 6 || !schema || typeof schema !== "object") return;
  if (Array.isArray(schema)) {
    for (const s of schema) collectRequired(s, into, depth + 1);
    return;
  }
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.required)) for (const r of s.required) into.add(String(r));
  collectRequired(s.not, into, depth + 1);
  collectRequired(s.anyOf, into, depth + 1);
  collectRequired(s.allOf, into, depth + 1);
}

/** "/spec/http/0/route" -> ["spec", "http", 0, "route"], numbers only where the data is a list. */
function toPath(pointer: string, root: unknown): PathSegment[] {
  if (!pointer) return [];
  const path: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      path.push(Number(key));
      node = node[Number(key)];
    } else {
      path.push(key);
      node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

function article(type: string): string {
  const word = type === "integer" ? "integer" : type === "boolean" ? "boolean (true or false)" : type;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** A short rendering of a value for messages: strings quoted, long things cut. */
export function show(value: unknown): string {
  let s: string;
  if (value === undefined) return "nothing";
  if (typeof value === "string") s = JSON.stringify(value);
  else if (Array.isArray(value)) s = "a list";
  else if (value && typeof value === "object") s = "a map";
  else s = String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
