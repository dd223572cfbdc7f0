// The sidecar's identity code must not load an X.509 library: @peculiar/x509 (with
// reflect-metadata) costs ~8 MiB of RSS per sidecar, and node:crypto covers what a sidecar needs.
// Tests, test-kit.ts and handshake-bench.ts drive the real CA (src/ca), so they are exempt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");
const FORBIDDEN_PACKAGES = ["@peculiar/x509", "reflect-metadata"];
const FORBIDDEN_FILE = join(REPO, "src/ca/x509.ts");
const EXEMPT = new Set(["test-kit.ts", "handshake-bench.ts"]);

const runtimeFiles = readdirSync(HERE).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !EXEMPT.has(f));

/** Specifiers a module loads: static imports and re-exports (not `import type`), and import("..."). */
function loadedSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']/g)) if (!m[1]) out.push(m[2]!);
  for (const m of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Every forbidden import reachable from `entry` through relative imports, as "a.ts -> b.ts -> pkg". */
function forbiddenPaths(entry: string): string[] {
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const found: string[] = [];
  const trail = (file: string, last: string) => {
    const names = [last];
    for (let f: string | undefined = file; f; f = parent.get(f)) names.unshift(relative(REPO, f));
    return names.join(" -> ");
  };
  while (queue.length) {
    const file = queue.shift()!;
    for (const spec of loadedSpecifiers(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (target === FORBIDDEN_FILE) found.push(trail(file, relative(REPO, target)));
        else if (existsSync(target) && !parent.has(target)) {
          parent.set(target, file);
          queue.push(target);
        }
      } else if (FORBIDDEN_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) {
        found.push(trail(file, spec));
      }
    }
  }
  return found;
}

test("the scan finds what it looks for (it would catch src/ca/sign.ts)", () => {
  assert.ok(runtimeFiles.includes("workload-identity.ts") && runtimeFiles.includes("validate-chain.ts") && runtimeFiles.includes("workload-key.ts"));
  const caught = forbiddenPaths(join(REPO, "src/ca/sign.ts"));
  assert.ok(caught.some((p) => p.endsWith("src/ca/x509.ts")), caught.join("\n"));
  assert.deepEqual(forbiddenPaths(join(REPO, "src/ca/x509.ts")), ["src/ca/x509.ts -> reflect-metadata", "src/ca/x509.ts -> @peculiar/x509"]);
});

test("no identity module imports @peculiar/x509, reflect-metadata or src/ca/x509.ts, directly or through other files", () => {
  for (const f of runtimeFiles) assert.deepEqual(forbiddenPaths(join(HERE, f)), [], f);
});

test("loading the identity module in a fresh process resolves neither package", () => {
  // Records every module URL the loader resolves, then loads index.ts as a sidecar would.
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
    const m = await import(${JSON.stringify(pathToFileURL(join(HERE, "index.ts")).href)});
    if (typeof m.WorkloadIdentityManager !== "function") throw new Error("index.ts did not load");
    console.log(JSON.stringify({ seen, reflectMetadata: typeof Reflect.getMetadata }));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const { seen, reflectMetadata } = JSON.parse(r.stdout) as { seen: string[]; reflectMetadata: string };
  assert.ok(seen.some((u) => u.endsWith("/src/proxy/identity/validate-chain.ts")), "the hook saw the identity modules");
  assert.deepEqual(seen.filter((u) => /node_modules\/(@peculiar|reflect-metadata)\/|\/src\/ca\/x509\.ts$/.test(u)), []);
  assert.equal(reflectMetadata, "undefined");
});
