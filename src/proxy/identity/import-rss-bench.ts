// Quick measurement, not a test: resident memory of a fresh Node process that loads the sidecar's
// workload-identity module (and makes one key + CSR), against a bare process. Each case runs
// several times in its own process; medians are printed, in MiB.
//   npx node src/proxy/identity/import-rss-bench.ts [runs per case, default 5]
import { fileURLToPath } from "node:url";
import { compareImportRss, printMemory } from "../../../bench/lib/import-rss.ts";

const CASES = ["bare", "import", "import+key"] as const;
type Case = (typeof CASES)[number];

async function load(which: Case): Promise<void> {
  if (which !== "bare") await import("./workload-identity.ts");
  if (which === "import+key") await (await import("./workload-key.ts")).generateWorkloadKey("ecdsa-p256");
}

if (process.argv[2] === "--child") {
  await load(process.argv[3] as Case);
  await printMemory();
} else {
  compareImportRss(fileURLToPath(import.meta.url), CASES, Number(process.argv[2] ?? 5));
}
