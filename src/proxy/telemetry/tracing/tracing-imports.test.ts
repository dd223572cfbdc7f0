// Sidecar memory (issue 6): OpenTelemetry's packages load only when a sampled span must be
// exported. A sidecar without tracing, or with tracing but nothing sampled yet, never loads
// them: no static import reaches them, and a running data plane does not resolve them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../../..");
const ENTRIES = ["src/proxy/main.ts", "src/cli/proxy.ts", "src/proxy/telemetry/tracing/tracer.ts"];

/** Static imports and re-exports (not `import type`); dynamic import() is what lazy loading uses. */
function staticSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']/g)) if (!m[1]) out.push(m[2]!);
  return out;
}

/** Every package reachable from `entry` through static relative imports, with the path to it. */
function staticPackages(entry: string): Map<string, string> {
  const seen = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const found = new Map<string, string>();
  const trail = (file: string) => {
    const names: string[] = [];
    for (let f: string | undefined = file; f; f = seen.get(f)) names.unshift(relative(REPO, f));
    return names.join(" -> ");
  };
  while (queue.length) {
    const file = queue.shift()!;
    for (const spec of staticSpecifiers(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target) && !seen.has(target)) {
          seen.set(target, file);
          queue.push(target);
        }
      } else if (!spec.startsWith("node:") && !found.has(spec)) found.set(spec, `${trail(file)} -> ${spec}`);
    }
  }
  return found;
}

test("no static import path from the sidecar reaches an @opentelemetry package", () => {
  for (const entry of ENTRIES) {
    const pkgs = staticPackages(join(REPO, entry));
    assert.ok(pkgs.has("pino") || pkgs.size > 0 || entry.endsWith("tracer.ts"), `the scan follows ${entry}'s imports`);
    assert.deepEqual([...pkgs.entries()].filter(([p]) => p.startsWith("@opentelemetry/")).map(([, t]) => t), [], entry);
  }
  // The scan would see a static import: exporters' readable-span.ts has them.
  assert.ok([...staticPackages(join(HERE, "readable-span.ts")).keys()].some((p) => p.startsWith("@opentelemetry/")));
});

test("a running data plane loads OpenTelemetry only for its first sampled span", async () => {
  const url = (f: string) => JSON.stringify(pathToFileURL(join(REPO, f)).href);
  // A child process: serve requests through listeners without tracing, with tracing at 0 %,
  // then at 100 %, and report which module URLs the loader resolved at each step.
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
    const { createDataPlane } = await import(${url("src/proxy/main.ts")});
    const kit = await import(${url("src/proxy/test-kit.ts")});
    const tk = await import(${url("src/proxy/telemetry/tracing/test-kit.ts")});
    const otel = () => seen.filter((u) => u.includes("/node_modules/@opentelemetry/")).length;
    const app = await kit.startUpstream("app");
    const plane = createDataPlane({ drainMs: 100, accessLog: () => {} });
    const listener = (tracing) => {
      const l = kit.hcmListener("l", { routeConfig: kit.routeConfig("r", [kit.vhost("all", ["*"], [kit.toCluster("app")])]) });
      if (tracing) l.filter_chains[0].filters[0].typed_config.tracing = tracing;
      return l;
    };
    const steps = {};
    const step = async (name, tracing, version) => {
      const nack = await kit.feed(plane, { clusters: [kit.edsCluster("app"), kit.edsCluster("collector")], endpoints: [kit.cla("app", [{ port: app.port }]), kit.cla("collector", [{ port: app.port }])], listeners: [listener(tracing)] }, version);
      if (nack) throw new Error(nack);
      const r = await kit.viaProxy(plane.listeners.port("l"), "http://x/");
      if (r.status !== 200) throw new Error("status " + r.status);
      await new Promise((res) => setTimeout(res, 50));
      steps[name] = otel();
    };
    await step("off", undefined, "1");
    await step("unsampled", tk.otelTracing({ random_sampling: { value: 0 } }, "collector"), "2");
    await step("sampled", tk.otelTracing({}, "collector"), "3");
    await plane.close(); // sends the queued span
    steps.sampled = otel();
    await app.close();
    console.log(JSON.stringify(steps));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  assert.equal(code, 0, err);
  const steps = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, number>;
  assert.equal(steps.off, 0, "no tracing: nothing from @opentelemetry");
  assert.equal(steps.unsampled, 0, "tracing on, nothing sampled: still nothing");
  assert.ok(steps.sampled! > 0, "the first sampled span loads the exporter");
});
