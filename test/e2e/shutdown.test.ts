// Ctrl-C stops everything cleanly: `mizzen up` exits 0, no process it started is left behind
// (not even the workload's own children), and every port it used is free again.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh } from "../support/mesh.ts";
import { isListening, waitFor } from "../support/http.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-shutdown-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every live descendant of pid, from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) { out.push(child); walk(child); }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

test("SIGINT to mizzen up stops every process and frees every port", async () => {
  writeFileSync(
    join(dir, "workloads.yaml"),
    `workloads:
  - name: shell
    labels: { app: shell }
    ports: [{ name: http, port: 8000 }]
    command: "python3 -m http.server $PORT --bind $HOST & sleep 1000 & wait"
`,
  );
  writeFileSync(
    join(dir, "svc.yaml"),
    `apiVersion: v1
kind: Service
metadata: { name: shell }
spec:
  selector: { app: shell }
  ports: [{ name: http, port: 80, targetPort: 8000 }]
`,
  );
  const mesh = await startMesh(dir, 103, 1);
  const app = "127.103.2.1";
  await waitFor("the app listening", () => isListening(app, 8000));
  const pids = descendants(mesh.child.pid!);
  assert.ok(pids.length >= 4, `control plane, sidecar, shell and its children were started (${pids.length})`);

  const code = await mesh.stop("SIGINT");
  assert.equal(code, 0, `mizzen up exits 0 on Ctrl-C\n${mesh.output().slice(-2000)}`);
  await waitFor("every child gone", async () => pids.every((p) => !alive(p)), 10_000);
  for (const [host, port] of [["127.0.0.1", mesh.xdsPort], [mesh.podIp(1), 15000], [mesh.podIp(1), 15001], [mesh.podIp(1), 8000], [app, 8000]] as const) {
    assert.equal(await isListening(host, port), false, `${host}:${port} is free`);
  }
});
