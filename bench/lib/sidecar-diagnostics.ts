// Where a sidecar's CPU and memory go, for the next engineer who wants to cut them:
// - a CPU profile of the client-side sidecar (sidecar A) at a constant 1000 req/s under mTLS,
//   cut to the load's own window (start-up and shutdown left out);
// - a heap snapshot of an idle sidecar (ready, config and workload certificate held, no
//   traffic), summarised by class with retained sizes.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { workloadIdentity } from "../../src/ca/index.ts";
import { sidecarNodeFlags } from "../../src/run/stripped-modules.ts";
import { answers, listening, startChild, waitFor } from "./children.ts";
import { summariseProfile, topCallers, topOursTotal, topSelf, type FunctionTime, type ProfileSummary, type SidecarProfile } from "./cpuprofile.ts";
import { readHeapSnapshot, type HeapSummary } from "./heap-snapshot.ts";
import { memoryKb, type MemoryKb } from "./proc-stats.ts";
import { monotonicUs, profileWindow, type CpuProfileJson } from "./profile-window.ts";
import type { MtlsMesh } from "./mtls-mesh.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");

export interface IdleHeap {
  sidecar: string;
  memory: MemoryKb;
  heap: HeapSummary;
}

function onlyFile(dir: string, suffix: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(suffix));
  if (files.length > 1) throw new Error(`expected one ${suffix} in ${dir}, found ${files.length}`);
  return files[0] ? join(dir, files[0]) : undefined;
}

/**
 * Restarts sidecar A under --cpu-prof, warms it up, runs `load` (which returns the requests it
 * made) between two clock marks, restarts A plainly (SIGTERM: Node writes the profile) and
 * summarises the marked window.
 */
export async function profileClientSidecar(mesh: MtlsMesh, warmup: () => Promise<unknown>, load: () => Promise<number>, loadName: string): Promise<SidecarProfile> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-issue6-prof-"));
  try {
    await mesh.restartSidecar("client", dir);
    await warmup();
    const from = monotonicUs();
    const requests = await load();
    const to = monotonicUs();
    await mesh.restartSidecar("client");
    const file = onlyFile(dir, ".cpuprofile");
    if (!file) throw new Error(`the profiled sidecar wrote no .cpuprofile into ${dir}`);
    const full = JSON.parse(readFileSync(file, "utf8")) as CpuProfileJson;
    const summary = summariseProfile(profileWindow(full, from, to), REPO);
    const { functions: _f, nativeCallers: _n, ...totals } = summary;
    const top = topSelf(summary, 15);
    const natives = top.filter((f) => !f.location && !f.name.startsWith("(")).slice(0, 3);
    return {
      sidecar: "sidecar A (client side, outbound)", load: loadName, requests, summary: totals, topSelf: top,
      topOursTotal: topOursTotal(summary, 10),
      nativeCallers: natives.map((f) => ({ native: f.name, callers: topCallers(summary, f.name, 3) })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A third sidecar on its own pod address, connected to the mesh's control plane like A (mTLS
 * config, its own workload certificate), left idle for settleMs, then made to write a heap
 * snapshot (--heapsnapshot-signal).
 */
export async function idleSidecarHeap(mesh: MtlsMesh, podIp: string, adminPort: number, settleMs: number): Promise<IdleHeap> {
  const security = mesh.control.security;
  if (!security) throw new Error("the mesh's control plane runs without its CA");
  for (const port of [adminPort, 15001, 15090]) {
    if (await listening(podIp, port)) throw new Error(`${podIp}:${port} is already in use (another benchmark running?)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "mizzen-bench-issue6-heap-"));
  const token = security.tokens.issue(workloadIdentity("cluster.local", "default", "idle"));
  const args = [
    ...sidecarNodeFlags(), "--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${dir}`, CLI, "proxy",
    "--xds", `127.0.0.1:${mesh.control.secureXdsPort}`, "--ca-root", security.rootFile, "--admin-port", String(adminPort), "--namespace", "default",
    "--ip", podIp, "--name", "idle", "--service-account", "idle", "--labels", "app=idle",
  ];
  const child = startChild("idle sidecar", process.execPath, args, { ...process.env, MIZZEN_LOG_FORMAT: "text", MIZZEN_BOOTSTRAP_TOKEN: token });
  try {
    await waitFor("the idle sidecar's admin /ready", () => answers(`http://${podIp}:${adminPort}/ready`), 30_000, child);
    await sleep(settleMs);
    const memory = memoryKb(child.pid);
    child.proc.kill("SIGUSR2");
    // Node writes the snapshot on the main thread: done once the admin answers again and the file stops growing.
    let size = -1;
    await waitFor("the idle sidecar's heap snapshot", async () => {
      const f = onlyFile(dir, ".heapsnapshot");
      if (!f || !(await answers(`http://${podIp}:${adminPort}/ready`))) return false;
      const now = statSync(f).size;
      const done = now > 0 && now === size;
      size = now;
      return done;
    }, 60_000, child);
    return { sidecar: "idle sidecar (ready, mTLS config and certificate, no traffic)", memory, heap: readHeapSnapshot(onlyFile(dir, ".heapsnapshot")!, 20) };
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
