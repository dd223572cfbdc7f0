// Unknown-field detection. Istio's CRD schemas (as generated in @kubernetes-models/istio) do
// not close their objects, so a typo such as "rout:" passes the schema and is silently
// ignored. We read the spec's schema back from the package (Ajv reports it as the parent
// schema of an error on purpose-built probe input) and walk the user's spec against it.
// Unknown fields are warnings: the schema is Istio 1.18's, so a field added by a later Istio
// must not reject an otherwise valid object.
import type { SchemaModel } from "./kinds.ts";
import type { Issue } from "./schema.ts";
import type { PathSegment } from "./yaml.ts";

type Schema = Record<string, unknown>;

/**
 * Fields that Istio releases after the package's 1.18 schemas added and that Mizzen reads,
 * keyed by a field that marks the object they belong to (HTTPRoute has mirrorPercentage).
 */
const LATER_FIELDS: Record<string, string[]> = {
  mirrorPercentage: ["mirrors"], // Istio 1.22: several mirror destinations
  issuer: ["fromCookies", "timeout", "spaceDelimitedClaims"], // RequestAuthentication jwtRules, Istio 1.21+
  authority: ["uriRegexRewrite"], // HTTPRewrite, Istio 1.19+ (next to uri / authority)
  uri: ["uriRegexRewrite"],
};
const specSchemas = new WeakMap<SchemaModel, Schema | null>();

function specSchemaOf(model: SchemaModel): Schema | null {
  if (specSchemas.has(model)) return specSchemas.get(model)!;
  let found: Schema | null = null;
  try {
    new model({ apiVersion: model.apiVersion, kind: model.kind, spec: 0 } as never).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; parentSchema?: Schema }[] }).errors ?? [];
    const hit = errors.find((x) => x.instancePath === "/spec" && x.parentSchema && typeof x.parentSchema === "object");
    found = hit?.parentSchema ?? null;
  }
  specSchemas.set(model, found);
  return found;
}

export function unknownFields(model: SchemaModel, spec: unknown): Issue[] {
  const schema = specSchemaOf(model);
  const out: Issue[] = [];
  if (schema) walk(schema, spec, ["spec"], out, 0);
  return out;
}

function walk(schema: Schema, value: unknown, path: PathSegment[], out: Issue[], depth: number): void {
  if (depth > 64 || out.length > 50 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (items && typeof items === "object" && !Array.isArray(items)) {
      value.forEach((v, i) => walk(items as Schema, v, [...path, i], out, depth + 1));
    }
    return;
  }
  const record = value as Record<string, unknown>;
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const additional = schema.additionalProperties;
  if (additional && typeof additional === "object") {
    for (const [k, v] of Object.entries(record)) walk(additional as Schema, v, [...path, k], out, depth + 1);
    return;
  }
  const known = Object.keys(props);
  if (known.length === 0) return; // a free-form map (e.g. a protobuf Struct)
  const later = new Set(known.flatMap((k) => LATER_FIELDS[k] ?? []));
  for (const [k, v] of Object.entries(record)) {
    const sub = props[k];
    if (later.has(k)) continue; // not in the old schema, so its contents are not walked
    if (!sub) {
      const guess = closest(k, known);
      out.push({
        path: [...path, k],
        severity: "warning",
        message: `unknown field "${k}" is ignored${guess ? `; did you mean "${guess}"?` : `; known fields here: ${known.join(", ")}`}`,
      });
    } else {
      walk(sub, v, [...path, k], out, depth + 1);
    }
  }
}

/** The known name nearest to `word` by edit distance, if it is plausibly a typo of it. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
