// Reads a directory of Istio YAML (recursively, sorted) into validated objects and errors.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseConfigTextDetailed, rejectDuplicates } from "./parse.ts";
import type { ParsedText } from "./parse.ts";
import type { ConfigError, ConfigObject } from "./types.ts";

/** A folder's MeshConfig (Istio's `mesh` settings), read by `mizzen up` and `mizzen validate`, not as objects. */
export const MESH_CONFIG_FILE = "meshconfig.yaml";
/** The local runner's own files live beside the mesh YAML but are not Istio config objects. */
const SKIPPED_FILES = new Set(["workloads.yaml", MESH_CONFIG_FILE]);
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export async function loadConfigDir(dir: string): Promise<{ objects: ConfigObject[]; errors: ConfigError[]; files: string[] }> {
  const problem = (file: string, message: string): ConfigError => ({ file, line: 1, field: "", severity: "error", message });
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) return { objects: [], errors: [problem(dir, `${dir} is not a directory; pass the folder holding your Istio YAML`)], files: [] };
  } catch {
    return { objects: [], errors: [problem(dir, `directory ${dir} does not exist; pass the folder holding your Istio YAML`)], files: [] };
  }
  const errors: ConfigError[] = [];
  const files = await listYamlFiles(dir, errors);
  const parts: ParsedText[] = [];
  for (const file of files) {
    let text: string;
    try {
      const st = await stat(file);
      if (st.size > MAX_FILE_BYTES) {
        errors.push(problem(file, `file is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB; split it into smaller files`));
        continue;
      }
      text = await readFile(file, "utf8");
    } catch (e) {
      errors.push(problem(file, `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`));
      continue;
    }
    parts.push(parseConfigTextDetailed(text, file));
  }
  const result = rejectDuplicates(parts);
  return { objects: result.objects, errors: [...errors, ...result.errors], files };
}

async function listYamlFiles(root: string, errors: ConfigError[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 32) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      errors.push({ file: dir, line: 1, field: "", severity: "error", message: `cannot read directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue; // editor swap files, .git
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, depth + 1);
      else if (/\.ya?ml$/.test(entry.name) && !SKIPPED_FILES.has(entry.name) && (entry.isFile() || entry.isSymbolicLink())) out.push(full);
    }
  };
  await walk(root, 0);
  // Sorted by path relative to the root, so "a/x.yaml" < "b.yaml" is stable across platforms.
  return out.sort((a, b) => {
    const ra = relative(root, a);
    const rb = relative(root, b);
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  });
}
