// Text -> accepted ConfigObjects + ConfigErrors. Each YAML document goes through: shape
// (apiVersion/kind/metadata), the generated schema, then Istio's semantic rules. Every error
// names the file, the line of the offending field and the object it belongs to.
import { isKnownKind, KIND_VERSIONS } from "./kinds.ts";
import { validateWithModel } from "./schema.ts";
import { unknownFields } from "./unknown-fields.ts";
import type { Issue } from "./schema.ts";
import { dns1123Label, dns1123Subdomain, isObj, Issues, labelMap } from "./semantic/checks.ts";
import { SEMANTIC } from "./semantic/index.ts";
import { configKey } from "./types.ts";
import type { ConfigError, ConfigKey, ConfigObject, KnownKind, SourcePos } from "./types.ts";
import { formatPath, parseYamlDocuments } from "./yaml.ts";
import type { YamlDocument } from "./yaml.ts";

/** A document whose kind/namespace/name could be read, accepted or not (for duplicates). */
export interface SeenDocument {
  key: ConfigKey;
  source: SourcePos;
  object?: ConfigObject;
}

export interface ParsedText {
  objects: ConfigObject[];
  errors: ConfigError[];
  seen: SeenDocument[];
}

export function parseConfigText(text: string, file: string): { objects: ConfigObject[]; errors: ConfigError[] } {
  const parsed = parseConfigTextDetailed(text, file);
  return rejectDuplicates([parsed]);
}

/** Like parseConfigText but without duplicate detection (the caller does it across files). */
export function parseConfigTextDetailed(text: string, file: string): ParsedText {
  const out: ParsedText = { objects: [], errors: [], seen: [] };
  let docs: YamlDocument[];
  try {
    const parsed = parseYamlDocuments(text, file);
    out.errors.push(...parsed.errors);
    docs = parsed.docs;
  } catch (e) {
    out.errors.push({ file, line: 1, field: "", severity: "error", message: `cannot read this file as YAML: ${(e as Error)?.message ?? String(e)}` });
    return out;
  }
  for (const doc of docs) {
    try {
      checkDocument(doc, out);
    } catch (e) {
      // A validator bug must never take the process down; report it against the document.
      out.errors.push({ file, line: doc.line, field: "", severity: "error", message: `internal error while validating this document (please report it): ${(e as Error)?.message ?? String(e)}` });
    }
  }
  return out;
}

function checkDocument(doc: YamlDocument, out: ParsedText): void {
  const at = (path: (string | number)[]) => ({ file: doc.file, ...doc.positionOf(path) });
  const v = doc.value;
  if (!isObj(v)) {
    out.errors.push({ ...at([]), field: "", severity: "error", message: "a document must be a map with apiVersion, kind, metadata and spec" });
    return;
  }
  const kind = v.kind;
  const apiVersion = v.apiVersion;
  if (typeof kind !== "string" || kind === "") {
    out.errors.push({ ...at(["kind"]), field: "kind", severity: "error", message: "kind is required (e.g. kind: VirtualService)" });
    return;
  }
  const meta = isObj(v.metadata) ? v.metadata : {};
  const rawName = typeof meta.name === "string" ? meta.name : undefined;
  const namespace = typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : "default";
  const who = { kind, name: rawName, namespace };
  if (!isKnownKind(kind) || (kind === "Service" && apiVersion !== "v1" && !String(apiVersion).includes("istio.io"))) {
    out.errors.push({ ...at(["kind"]), ...who, field: "", severity: "warning", message: `kind ${kind} (${String(apiVersion)}) is ignored by Mizzen` });
    return;
  }
  const versions = KIND_VERSIONS[kind];
  const errors: ConfigError[] = [];
  const push = (issue: Issue) => {
    errors.push({ ...at(issue.path), ...who, field: formatPath(issue.path), severity: issue.severity ?? "error", message: issue.message });
  };
  if (typeof apiVersion !== "string" || !Object.hasOwn(versions, apiVersion)) {
    const accepted = Object.keys(versions).join(", ");
    push({ path: ["apiVersion"], message: `apiVersion ${JSON.stringify(apiVersion) ?? "(missing)"} is not accepted for kind ${kind}; use one of ${accepted}` });
  }
  if (!isObj(v.metadata)) push({ path: ["metadata"], message: "metadata with a name is required (e.g. metadata: {name: reviews})" });
  else {
    const nameErr = kind === "Service" ? dns1123Label(meta.name, "name") : dns1123Subdomain(meta.name, "name");
    if (nameErr) push({ path: ["metadata", "name"], message: nameErr });
    if (meta.namespace !== undefined) {
      const nsErr = dns1123Label(meta.namespace, "namespace");
      if (nsErr) push({ path: ["metadata", "namespace"], message: nsErr });
    }
    if (meta.labels !== undefined) {
      const labelErr = labelMap(meta.labels);
      if (labelErr) push({ path: ["metadata", "labels"], message: labelErr });
    }
  }
  if (!isObj(v.spec)) {
    push({ path: ["spec"], message: v.spec === undefined ? `spec is required for a ${kind}` : "spec must be a map of fields" });
  } else if (typeof apiVersion === "string" && Object.hasOwn(versions, apiVersion)) {
    validateSpec(kind, versions[apiVersion] ?? null, v, push);
  }
  const source: SourcePos = { file: doc.file, line: doc.line, column: doc.column };
  const key = rawName ? configKey({ kind, metadata: { namespace, name: rawName } }) : undefined;
  out.errors.push(...errors);
  if (errors.some((e) => e.severity === "error") || !rawName) {
    if (key) out.seen.push({ key, source });
    return;
  }
  const object: ConfigObject = {
    kind,
    apiVersion: apiVersion as string,
    metadata: {
      name: rawName, namespace, ...pickStringMap(meta, "labels"), ...pickStringMap(meta, "annotations"),
      // Istio breaks ties between policies by age; files exported from a cluster carry it.
      ...(typeof meta.creationTimestamp === "string" ? { creationTimestamp: meta.creationTimestamp } : {}),
    },
    spec: v.spec as Record<string, unknown>,
    source,
  };
  out.objects.push(object);
  if (key) out.seen.push({ key, source, object });
}

function validateSpec(kind: KnownKind, model: Parameters<typeof validateWithModel>[0] | null, v: Record<string, unknown>, push: (i: Issue) => void): void {
  const schemaIssues = model ? validateWithModel(model, { apiVersion: v.apiVersion, kind: v.kind, spec: v.spec }) : [];
  schemaIssues.forEach(push);
  if (model) unknownFields(model, v.spec).forEach(push);
  const issues = new Issues();
  SEMANTIC[kind](v.spec as Record<string, unknown>, issues);
  // A field the schema already rejected (e.g. wrong type) needs no second message.
  const schemaPaths = new Set(schemaIssues.map((i) => formatPath(i.path)));
  for (const issue of issues.list) {
    if (!schemaPaths.has(formatPath(issue.path))) push(issue);
  }
}

function pickStringMap(meta: Record<string, unknown>, field: "labels" | "annotations"): Partial<Record<typeof field, Record<string, string>>> {
  const m = meta[field];
  if (!isObj(m)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(m)) out[k] = String(val);
  return { [field]: out };
}

/** Keeps the first document of each kind/namespace/name; later ones are rejected with a pointer to it. */
export function rejectDuplicates(parts: ParsedText[]): { objects: ConfigObject[]; errors: ConfigError[] } {
  const first = new Map<ConfigKey, SourcePos>();
  const objects: ConfigObject[] = [];
  const errors: ConfigError[] = parts.flatMap((p) => p.errors);
  for (const seen of parts.flatMap((p) => p.seen)) {
    const prev = first.get(seen.key);
    if (!prev) {
      first.set(seen.key, seen.source);
      if (seen.object) objects.push(seen.object);
      continue;
    }
    const [kind, namespace, name] = seen.key.split("/");
    errors.push({
      ...seen.source,
      kind,
      namespace,
      name,
      field: "metadata.name",
      severity: "error",
      message: `duplicate ${kind} ${namespace}/${name}: already defined at ${prev.file}:${prev.line}; remove one of them or give it another name`,
    });
  }
  return { objects, errors };
}
