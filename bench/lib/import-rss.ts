// Resident memory of a fresh Node process after it loads some modules: the harness behind the
// quick "what does importing X cost a sidecar" measurements. Each case runs several times in a
// child process of its own (the script itself, with `--child CASE`); medians are printed in MiB.
import { execFileSync } from "node:child_process";

/** In the child: collect garbage, then print {rss, heapUsed} as JSON for the parent. */
export async function printMemory(): Promise<void> {
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

/** In the parent: run `script --child CASE` `runs` times per case with `nodeFlags`, print medians. */
export function compareImportRss(script: string, cases: readonly string[], runs: number, nodeFlags: readonly string[] = []): void {
  const width = Math.max(...cases.map((c) => c.length)) + 1;
  for (const which of cases) {
    const samples = Array.from({ length: runs }, () => JSON.parse(execFileSync(process.execPath, [...nodeFlags, "--expose-gc", script, "--child", which], { encoding: "utf8" })) as { rss: number; heapUsed: number });
    console.log(`${which.padEnd(width)} rss ${mib(median(samples.map((s) => s.rss)))} MiB   heapUsed ${mib(median(samples.map((s) => s.heapUsed)))} MiB   (${runs} runs)`);
  }
}
