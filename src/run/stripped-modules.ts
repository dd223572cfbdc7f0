// Node flags for a sidecar child, and the cache of type-stripped modules that lets it run our
// TypeScript without loading Node's TypeScript stripper (swc compiled to WebAssembly).
//
// Measured with bench/memory.ts (one sidecar on examples/bookinfo, Node 24, 2 cores):
//   running .ts directly                      ~117 MiB idle, ready in ~500 ms
//   the same modules served pre-stripped      ~91 MiB idle, ready in ~280 ms
// The runner (this process) has the stripper loaded anyway, so it strips every src/ module
// once and stores the JavaScript under node_modules/.cache/mizzen/stripped/, named by the
// SHA-256 of the .ts source. The child loads ts-cache-hook.ts (itself stored stripped, as
// .mjs) with --import; the hook serves a module from the cache when the hash of its source
// matches and lets Node strip it as usual otherwise, so a stale cache cannot change behaviour.
// Stripping keeps every line and column (types become spaces), and the module keeps its .ts
// URL, so stack traces point at the real files. Nothing to build: the cache fills itself.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, existsSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SRC = fileURLToPath(new URL("../", import.meta.url));
const HOOK = fileURLToPath(new URL("./ts-cache-hook.ts", import.meta.url));
export const STRIPPED_CACHE_DIR = fileURLToPath(new URL("../../node_modules/.cache/mizzen/stripped/", import.meta.url));

/**
 * V8 flags for every sidecar. --max-semi-space-size=1 (MiB; V8 grows the young generation to
 * 16 MiB and more under load): bench/memory.ts measured idle VmRSS 91 -> 82 MiB and after
 * load 141-152 -> 97-103 MiB. bench/sidecar-throughput.ts, two rounds each: inbound
 * 22,058/22,066 -> 21,811/21,862 req/s, outbound 12,606/12,806 -> 12,635/12,447 req/s (within
 * run-to-run noise, ~1%). A sidecar's garbage is short-lived request objects, which a small
 * young generation collects as well. Measured and rejected: --max-semi-space-size=2 (slower
 * here), --optimize-for-size (a third fewer req/s), --single-threaded-gc and
 * --max-old-space-size=64 (no gain), --lite-mode (cannot run: no WebAssembly).
 */
export const SIDECAR_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/** The cache file for a module's source: same bytes, same file. */
export function strippedName(source: Buffer | string): string {
  return `${createHash("sha256").update(source).digest("hex")}.js`;
}

function writeOnce(dir: string, name: string, text: () => string): string {
  const file = join(dir, name);
  if (existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text());
  renameSync(tmp, file); // atomic: a concurrently starting child never reads half a file
  return file;
}

/** Strips a module's types the way Node does when it runs a .ts file, without the warning. */
function strip(source: string): string {
  const emit = process.emitWarning;
  process.emitWarning = () => {}; // "stripTypeScriptTypes is an experimental feature", once per process
  try {
    return stripTypeScriptTypes(source, { mode: "strip" });
  } finally {
    process.emitWarning = emit;
  }
}

/**
 * Fills the cache with every src/ module (tests excluded) and returns the node flag that
 * loads the hook. Returns [] when anything fails (read-only checkout, ...): the child then
 * strips its own modules, correct and only bigger.
 */
export function strippedModulesFlags(dir = STRIPPED_CACHE_DIR): string[] {
  try {
    mkdirSync(dir, { recursive: true });
    for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts")) continue;
      const source = readFileSync(join(entry.parentPath, entry.name));
      writeOnce(dir, strippedName(source), () => strip(source.toString("utf8")));
    }
    const hookSource = readFileSync(HOOK);
    const hook = writeOnce(dir, strippedName(hookSource).replace(/\.js$/, ".mjs"), () => strip(hookSource.toString("utf8")));
    return [`--import=${pathToFileURL(hook).href}`];
  } catch {
    return [];
  }
}

let sidecarFlags: string[] | undefined;

/** Node flags for `node src/cli/main.ts proxy ...`: computed (and the cache filled) once. */
export function sidecarNodeFlags(): string[] {
  sidecarFlags ??= [...strippedModulesFlags(), ...SIDECAR_V8_FLAGS];
  return sidecarFlags;
}
