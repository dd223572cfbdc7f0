// `npm run bench`: every benchmark in turn, then bench/results/latest.json and latest.md.
// Not part of `npm test`: it needs wrk, takes about two minutes, and its numbers depend on
// the machine. A benchmark that fails is reported in both files; the others still run.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { runSidecarThroughput } from "./sidecar-throughput.ts";
import { runConfigPropagation } from "./config-propagation.ts";
import { formatMarkdown, type BenchResults } from "./report.ts";
import { cpuModel } from "./lib/proc-stats.ts";
import { stopAllChildren } from "./lib/children.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function wrkVersion(): string | undefined {
  try {
    // wrk -v prints its version and usage, and exits 1.
    return execFileSync("wrk", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0];
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? "");
    return out.startsWith("wrk") ? out.split("\n")[0]!.split(" Copyright")[0] : undefined;
  }
}

async function main(): Promise<number> {
  const wrk = wrkVersion();
  if (!wrk) {
    process.stderr.write("bench: wrk is not installed; install it (Debian/Ubuntu: apt-get install -y wrk) and run again\n");
    return 1;
  }
  const results: BenchResults = {
    machine: { date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpuModel(), node: process.version, wrk, kernel: release(), loadStart: loadavg()[0]! },
    failures: [],
  };
  const started = Date.now();
  try {
    log("sidecar throughput (about 75 s)");
    results.throughput = await runSidecarThroughput({ log });
  } catch (err) {
    results.failures.push({ bench: "sidecar-throughput", error: (err as Error).message });
    log(`sidecar throughput failed: ${(err as Error).message}`);
  }
  try {
    log("config propagation (about 20 s)");
    results.propagation = await runConfigPropagation({ log });
  } catch (err) {
    results.failures.push({ bench: "config-propagation", error: (err as Error).message });
    log(`config propagation failed: ${(err as Error).message}`);
  }
  await stopAllChildren();
  results.machine.loadEnd = loadavg()[0]!;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS, "latest.md"), formatMarkdown(results));
  log(`done in ${Math.round((Date.now() - started) / 1000)} s; wrote bench/results/latest.json and latest.md`);
  return results.failures.length ? 1 : 0;
}

process.exitCode = await main();
