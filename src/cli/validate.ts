// `mizzen validate DIR`: checks a folder of Istio YAML exactly as the control plane would read
// it, prints one line per problem (file:line:col: Kind ns/name: field: message) and a summary.
import { stat } from "node:fs/promises";
import { loadConfigDir } from "../api/load.ts";
import { formatConfigError } from "../api/types.ts";
import type { ConfigError } from "../api/types.ts";

export interface ValidateOutput {
  log(line: string): void;
  error(line: string): void;
}

/** Returns the process exit code: 1 if any error, else 0. */
export async function validateCommand(dir: string, out: ValidateOutput): Promise<number> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => undefined);
  if (isDir === undefined) {
    out.error(`mizzen validate: directory ${dir} does not exist; pass the folder holding your Istio YAML`);
    return 1;
  }
  if (!isDir) {
    out.error(`mizzen validate: ${dir} is a file, not a directory; pass the folder holding your Istio YAML`);
    return 1;
  }
  const result = await loadConfigDir(dir);
  const sorted = [...result.errors].sort(byPosition);
  for (const e of sorted) {
    if (e.severity === "error") out.error(formatConfigError(e));
    else out.log(`warning: ${formatConfigError(e)}`);
  }
  const errors = sorted.filter((e) => e.severity === "error");
  const warnings = sorted.length - errors.length;
  // One rejected document may have several errors: count documents, not messages.
  const rejected = new Set(errors.map((e) => (e.kind ? `${e.file}|${e.kind}|${e.namespace ?? ""}|${e.name ?? `@${e.line}`}` : `${e.file}|@${e.line}`))).size;
  out.log(
    `${plural(result.objects.length, "object")} valid, ${rejected} rejected, ${plural(warnings, "warning")} in ${plural(result.files.length, "file")}`,
  );
  return errors.length > 0 ? 1 : 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function byPosition(a: ConfigError, b: ConfigError): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || (a.column ?? 0) - (b.column ?? 0);
}
