// Builds the dashboard front end (ui/) into static files the control plane serves at
// /dashboard/: ui/src/main.tsx bundled by esbuild into ui/dist/app.js (minified, with a
// source map), plus index.html and styles.css copied beside it.
//
//   npx node scripts/build-ui.ts
//
// Prints one line; on failure prints esbuild's messages and exits non-zero.
import { build, formatMessages, type Message } from "esbuild";
import { copyFileSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const UI_DIR = fileURLToPath(new URL("../ui", import.meta.url));
export const UI_DIST = join(UI_DIR, "dist");

export interface UiBuildResult {
  dist: string;
  ms: number;
  /** bytes of app.js */
  jsBytes: number;
}

export class UiBuildError extends Error {}

/**
 * Builds ui/ into outDir (default ui/dist). The files are written to a fresh sibling folder and
 * swapped in at the end, so a running control plane never serves a half-written build, and a
 * failed build leaves the previous one in place. Throws UiBuildError with esbuild's messages.
 */
export async function buildUi(outDir = UI_DIST): Promise<UiBuildResult> {
  const started = performance.now();
  const staging = `${outDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const result = await build({
      entryPoints: [join(UI_DIR, "src", "main.tsx")],
      outfile: join(staging, "app.js"),
      bundle: true,
      minify: true,
      sourcemap: true,
      format: "iife",
      platform: "browser",
      target: ["chrome120", "firefox120", "safari17"],
      jsx: "automatic",
      tsconfig: join(UI_DIR, "tsconfig.json"),
      define: { "process.env.NODE_ENV": '"production"' },
      logLevel: "silent",
      legalComments: "linked",
    });
    if (result.warnings.length > 0) {
      process.stderr.write((await formatMessages(result.warnings, { kind: "warning", color: false })).join(""));
    }
    copyFileSync(join(UI_DIR, "index.html"), join(staging, "index.html"));
    copyFileSync(join(UI_DIR, "src", "styles.css"), join(staging, "styles.css"));
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const errors = (err as { errors?: Message[] }).errors;
    const text = errors?.length ? (await formatMessages(errors, { kind: "error", color: false })).join("") : (err as Error).message;
    throw new UiBuildError(`ui build failed:\n${text}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
  return { dist: outDir, ms: Math.round(performance.now() - started), jsBytes: statSync(join(outDir, "app.js")).size };
}

if (import.meta.main) {
  try {
    const r = await buildUi();
    console.log(`ui built: ${relative(process.cwd(), r.dist) || r.dist}/app.js ${(r.jsBytes / 1024).toFixed(0)} KiB + index.html, styles.css in ${r.ms} ms`);
  } catch (err) {
    console.error(err instanceof UiBuildError ? err.message : `ui build failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
