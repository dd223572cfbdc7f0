// Multi-document YAML with source positions: every document keeps its node tree so that a
// field path (["spec", "http", 0, "route", 1, "weight"]) can be turned back into a line.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from "yaml";
import type { Document, Node } from "yaml";
import type { ConfigError } from "./types.ts";

/** A dotted-path segment: a map key or a sequence index. */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** One parsed, non-empty YAML document with its plain JS value and a way to find positions. */
export interface YamlDocument {
  file: string;
  /** Position of the document's first content line. */
  line: number;
  column: number;
  value: unknown;
  /** The position of the deepest existing node along `path` (the field itself when present). */
  positionOf(path: FieldPath): { line: number; column: number };
}

// Limits that keep hostile input (alias bombs, absurdly deep nesting) from exhausting memory.
const MAX_ALIAS_COUNT = 100;

/** "spec.http[0].route[1].weight" */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

export function parseYamlDocuments(text: string, file: string): { docs: YamlDocument[]; errors: ConfigError[] } {
  const docs: YamlDocument[] = [];
  const errors: ConfigError[] = [];
  const lineCounter = new LineCounter();
  let parsed: Document.Parsed[];
  try {
    const all = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
    parsed = Array.isArray(all) ? all : [];
  } catch (e) {
    errors.push(syntaxError(file, 1, undefined, `cannot parse YAML: ${(e as Error)?.message ?? String(e)}`));
    return { docs, errors };
  }
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  for (const doc of parsed) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors.slice(0, 3)) {
        const p = pos(Math.min(err.pos[0], Math.max(0, text.length - 1)));
        errors.push(syntaxError(file, p.line, p.column, `YAML syntax error: ${firstLine(err.message)}`));
      }
      continue;
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ""))) continue;
    const start = pos(contents.range?.[0] ?? 0);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      errors.push(syntaxError(file, start.line, start.column, `cannot read this YAML document: ${firstLine((e as Error)?.message ?? String(e))}; remove the repeated aliases (*name) or the recursion`));
      continue;
    }
    docs.push({
      file,
      line: start.line,
      column: start.column,
      value,
      positionOf: (path) => pos(offsetOf(doc, contents, path)),
    });
  }
  return { docs, errors };
}

function syntaxError(file: string, line: number, column: number | undefined, message: string): ConfigError {
  return { file, line, column, field: "", message, severity: "error" };
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/** Offset of the node at `path`; for a map entry, the offset of its key (the field's line). */
function offsetOf(doc: Document, root: Node, path: FieldPath): number {
  let node: unknown = root;
  let best = root.range?.[0] ?? 0;
  for (const seg of path) {
    node = resolve(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      const keyNode = pair.key as Node;
      best = keyNode.range?.[0] ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item) return best;
      best = item.range?.[0] ?? best;
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

function resolve(doc: Document, node: unknown): unknown {
  // Follow at most a few alias hops; a self-referencing alias must not loop forever.
  for (let i = 0; i < 8 && isAlias(node); i++) node = node.resolve(doc);
  return node;
}
