// Quick measurement, not a test: resident memory of a fresh Node process that loads the sidecar's
// workload-identity module (and makes one key + CSR), against a bare process. Each case runs
// several times in its own process; medians are printed, in MiB.
//   npx node src/proxy/identity/import-rss-bench.ts [runs per case, default 5]
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const CASES = ["bare", "import", "import+key"] as const;
type Case = (typeof CASES)[number];

async function measure(which: Case): Promise<void> {
  if (which !== "bare") await import("./workload-identity.ts");
  if (which === "import+key") await (await import("./workload-key.ts")).generateWorkloadKey("ecdsa-p256");
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 50));
  gc?.();
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);

const child = process.argv[2];
if (child === "--child") {
  await measure(process.argv[3] as Case);
} else {
  const runs = Number(child ?? 5);
  for (const which of CASES) {
    const samples = Array.from({ length: runs }, () => JSON.parse(execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", which], { encoding: "utf8" })) as { rss: number; heapUsed: number });
    console.log(`${which.padEnd(11)} rss ${mib(median(samples.map((s) => s.rss)))} MiB   heapUsed ${mib(median(samples.map((s) => s.heapUsed)))} MiB   (${runs} runs)`);
  }
}
