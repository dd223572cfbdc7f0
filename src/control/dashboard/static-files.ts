// The dashboard's page: the front end's built files (ui/dist) under /dashboard/. Paths are
// decoded once and must stay inside the folder (no "..", no encoded slashes climbing out, no
// backslashes or NULs); anything else is a 404. Without a build, every path answers 503 with
// the command that makes one.
import { readFile, stat } from "node:fs/promises";
import { extname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DebugReply } from "../debug-server.ts";

/** ui/dist of this checkout. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL("../../../ui/dist/", import.meta.url));
export const NOT_BUILT_MESSAGE = "the dashboard is not built: run `npm run build:ui`";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

export function contentTypeOf(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

function notFound(what: string): DebugReply {
  return { status: 404, body: `not found: ${what}\n` };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The file under `root` a request path names, or undefined when the path tries to leave it
 * or is not a plain relative path once decoded.
 */
export function resolveInside(root: string, encodedRelative: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(encodedRelative);
  } catch {
    return undefined;
  }
  if (rel === "") rel = "index.html";
  if (rel.includes("\0") || rel.includes("\\") || isAbsolute(rel)) return undefined;
  if (rel.split("/").some((seg) => seg === ".." || seg === ".")) return undefined;
  const full = resolve(root, rel);
  const back = relative(resolve(root), full);
  if (back === "" || back.startsWith("..") || isAbsolute(back)) return undefined;
  return full;
}

/** Serves `path` (which starts with `prefix`) from `root`. */
export async function serveStatic(root: string, prefix: string, path: string): Promise<DebugReply> {
  if (!(await isFile(resolve(root, "index.html")))) {
    return { status: 503, body: `${NOT_BUILT_MESSAGE}\n(looked for ${resolve(root, "index.html")})\n` };
  }
  const encoded = path.startsWith(prefix) ? path.slice(prefix.length) : "";
  const file = resolveInside(root, encoded);
  if (!file) return notFound(path);
  if (!(await isFile(file))) return notFound(path);
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return notFound(path);
  }
  return { body, contentType: contentTypeOf(file), headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" } };
}
