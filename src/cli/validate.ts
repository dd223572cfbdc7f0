// `mizzen validate DIR`: checks a folder of Istio YAML exactly as the control plane would read
// it (and its meshconfig.yaml, as `mizzen up` would pass it), prints one line per problem
// (file:line:col: Kind ns/name: field: message) and a summary.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { loadConfigDir, MESH_CONFIG_FILE } from "../api/load.ts";
import { parseMeshConfigText } from "../control/mesh-config-file.ts";
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
  // The folder's mesh config, as `mizzen up` would pass it to the control plane.
  const meshFile = join(dir, MESH_CONFIG_FILE);
  const meshText = await readFile(meshFile, "utf8").catch(() => undefined);
  const meshErrors = meshText === undefined ? [] : parseMeshConfigText(meshText, meshFile).errors;
  const sorted = [...result.errors, ...meshErrors].sort(byPosition);
  for (const e of sorted) {
    if (e.severity === "error") out.error(formatConfigError(e));
    else out.log(`warning: ${formatConfigError(e)}`);
  }
  const errors = sorted.filter((e) => e.severity === "error");
  const warnings = sorted.length - errors.length;
  // One rejected document may have several errors: count documents, not messages.
  const objectErrors = errors.filter((e) => e.file !== meshFile);
  const rejected = new Set(objectErrors.map((e) => (e.kind ? `${e.file}|${e.kind}|${e.namespace ?? ""}|${e.name ?? `@${e.line}`}` : `${e.file}|@${e.line}`))).size;
  const meshBad = errors.length - objectErrors.length;
  out.log(
    `${plural(result.objects.length, "object")} valid, ${rejected} rejected, ${plural(warnings, "warning")} in ${plural(result.files.length, "file")}` +
      (meshText === undefined ? "" : meshBad > 0 ? `; ${MESH_CONFIG_FILE} has ${plural(meshBad, "error")} (the control plane would not start)` : `; ${MESH_CONFIG_FILE} valid`),
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
