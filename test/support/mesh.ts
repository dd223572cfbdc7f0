// Starts a whole local mesh the way a user does (`mizzen up DIR`, a real child process with
// real control plane, sidecar and workload processes) and waits until every sidecar is ready.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, getJson, waitFor } from "./http.ts";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface TestMesh {
  child: ChildProcess;
  debugUrl: string;
  xdsPort: number;
  /** Everything the runner printed so far (all children's output, prefixed). */
  output(): string;
  /** Pod IP of the n-th workload (1-based, in workloads.yaml order). */
  podIp(n: number): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startMesh(dir: string, subnet: number, expectProxies: number): Promise<TestMesh> {
  const xdsPort = await freePort();
  const debugPort = await freePort();
  const child = spawn(process.execPath, [CLI, "up", dir, "--access-log", "--subnet", String(subnet), "--xds-address", `127.0.0.1:${xdsPort}`, "--debug-address", `127.0.0.1:${debugPort}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MIZZEN_LOG_FORMAT: "text" },
  });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const debugUrl = `http://127.0.0.1:${debugPort}`;
  const mesh: TestMesh = {
    child,
    debugUrl,
    xdsPort,
    output: () => out,
    podIp: (n) => `127.${subnet}.1.${n}`,
    async stop(signal = "SIGINT") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  try {
    await waitFor(
      `${expectProxies} ready sidecars`,
      async () => {
        if (child.exitCode !== null) throw new Error(`mizzen up exited with ${child.exitCode}:\n${out.slice(-3000)}`);
        const sync = await getJson<unknown[]>(`${debugUrl}/debug/syncz`);
        if (sync.length < expectProxies) return false;
        // The runner prints its summary once every app listens (or it gave up waiting).
        if (!out.includes("Mizzen mesh is up")) return false;
        for (let n = 1; n <= expectProxies; n++) {
          const r = await fetch(`http://${mesh.podIp(n)}:15000/ready`);
          if (r.status !== 200) return false;
        }
        return true;
      },
      60_000,
      200,
    );
  } catch (err) {
    await mesh.stop("SIGKILL");
    throw new Error(`${(err as Error).message}\n--- output ---\n${out.slice(-4000)}`);
  }
  return mesh;
}
