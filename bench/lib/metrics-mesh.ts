// The mesh bench/metrics-overhead.ts measures: the real control plane with its CA in this
// process, and as child processes two identical pairs of sidecars (a and b) started as
// `mizzen up` starts them, each pair with its own upstream application and service. One pair
// records Istio's standard metrics (the default), the other runs both sidecars with
// --no-metrics (no recording, no peer metadata exchange); swap() restarts all four with the
// roles exchanged, so a difference between the pairs themselves cancels out over a run.
// Only one pair carries load at a time, so they never compete for the two cores. Paths:
//   one sidecar:  wrk -> server sidecar inbound (podIP:8080, plaintext: PERMISSIVE) -> app
//   two sidecars: wrk -> client sidecar (15001) -> mTLS -> server sidecar -> app
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControl, type ControlPlane } from "../../src/control/main.ts";
import { workloadIdentity } from "../../src/ca/index.ts";
import { sidecarNodeFlags } from "../../src/run/stripped-modules.ts";
import { answers, listening, startChild, statusViaProxy, waitFor, type BenchChild } from "./children.ts";
import type { WrkOptions } from "./wrk.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
const UPSTREAM_SCRIPT = join(REPO, "bench/upstream-server.ts");

export const APP_PORT = 8080;
export const ADMIN_PORT = 15000;
export const OUTBOUND_PORT = 15001;
const TRUST_DOMAIN = "cluster.local";

export type Metrics = "on" | "off";
export type Role = "server" | "client";
export type PairName = "a" | "b";
export interface Pair { server: string; client: string; app: string; service: string }

/** Our own loopback /24 (127.154): pods on .1.n, applications on .2.n. */
export const PAIRS: Record<PairName, Pair> = {
  a: { server: "127.154.1.1", client: "127.154.1.2", app: "127.154.2.1", service: "up-a" },
  b: { server: "127.154.1.3", client: "127.154.1.4", app: "127.154.2.3", service: "up-b" },
};

function servicesYaml(): string {
  return (["a", "b"] as const).map((m) => `apiVersion: v1
kind: Service
metadata: { name: ${PAIRS[m].service}, namespace: default }
spec:
  selector: { app: ${PAIRS[m].service} }
  ports: [{ name: http, port: ${APP_PORT} }]
`).join("---\n");
}

/** wrk's target for a path through a pair. */
export function wrkTarget(p: Pair, sidecars: 1 | 2): Omit<WrkOptions, "threads" | "connections" | "durationS"> {
  if (sidecars === 1) return { url: `http://${p.server}:${APP_PORT}/`, hostHeader: `${p.service}:${APP_PORT}` };
  return { url: `http://${p.client}:${OUTBOUND_PORT}/`, requestTarget: `http://${p.service}:${APP_PORT}/`, hostHeader: `${p.service}:${APP_PORT}` };
}

export interface MetricsMesh {
  control: ControlPlane;
  /** The pair that runs with metrics on (off) now. */
  pair(m: Metrics): Pair;
  pairName(m: Metrics): PairName;
  sidecar(m: Metrics, role: Role): BenchChild;
  /** Restarts one sidecar, under `node --cpu-prof` into profileDir when given. */
  restart(m: Metrics, role: Role, profileDir?: string): Promise<void>;
  /** Restarts every sidecar with the roles exchanged: the "on" pair becomes "off" and back. */
  swap(): Promise<void>;
  close(): Promise<void>;
}

export async function startMetricsMesh(log: (l: string) => void): Promise<MetricsMesh> {
  for (const p of Object.values(PAIRS)) {
    for (const [h, port] of [[p.server, ADMIN_PORT], [p.server, APP_PORT], [p.client, OUTBOUND_PORT], [p.app, APP_PORT]] as const) {
      if (await listening(h, port)) throw new Error(`${h}:${port} is already in use (another benchmark running?); stop it and run again`);
    }
  }
  const configDir = mkdtempSync(join(tmpdir(), "mizzen-bench-metrics-config-"));
  const dataDir = mkdtempSync(join(tmpdir(), "mizzen-bench-metrics-data-"));
  writeFileSync(join(configDir, "services.yaml"), servicesYaml());
  const control = await startControl({ configDir, secureXds: { host: "127.0.0.1", port: 0 }, security: { dataDir }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false });
  const security = control.security!;
  log(`control plane in-process, xDS and CA over TLS on 127.0.0.1:${control.secureXdsPort}`);
  const onPair: { name: PairName } = { name: "a" };
  const nameOf = (m: Metrics): PairName => (m === "on" ? onPair.name : onPair.name === "a" ? "b" : "a");
  const start = (n: PairName, m: Metrics, role: Role, profileDir?: string): BenchChild => {
    const p = PAIRS[n];
    const sa = role === "server" ? p.service : `client-${n}`;
    const who = role === "server"
      ? ["--ip", p.server, "--name", `${p.service}-v1`, "--service-account", sa, "--labels", `app=${p.service},version=v1`, "--ports", `http:${APP_PORT}`, "--app-address", p.app]
      : ["--ip", p.client, "--name", `client-${n}`, "--service-account", sa, "--labels", `app=client-${n}`];
    const node = [...sidecarNodeFlags(), ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
    const args = [...node, CLI, "proxy", "--xds", `127.0.0.1:${control.secureXdsPort}`, "--ca-root", security.rootFile, "--admin-port", String(ADMIN_PORT), "--namespace", "default", ...who, ...(m === "off" ? ["--no-metrics"] : [])];
    return startChild(`${n} (metrics ${m}) ${role} sidecar`, process.execPath, args, {
      ...process.env,
      MIZZEN_LOG_FORMAT: "text",
      MIZZEN_BOOTSTRAP_TOKEN: security.tokens.issue(workloadIdentity(TRUST_DOMAIN, "default", sa)),
    });
  };
  const children = new Map<string, BenchChild>();
  const upstreams: BenchChild[] = [];
  for (const n of ["a", "b"] as const) {
    upstreams.push(startChild(`${n} upstream`, process.execPath, [UPSTREAM_SCRIPT], { ...process.env, HOST: PAIRS[n].app, PORT: String(APP_PORT) }));
  }
  for (const m of ["on", "off"] as const) for (const role of ["server", "client"] as const) children.set(`${nameOf(m)}/${role}`, start(nameOf(m), m, role));
  const ready = async (n: PairName): Promise<void> => {
    const p = PAIRS[n];
    for (const role of ["server", "client"] as const) {
      const pod = role === "server" ? p.server : p.client;
      await waitFor(`pair ${n}'s ${role} sidecar's /ready`, () => answers(`http://${pod}:${ADMIN_PORT}/ready`), 30_000, children.get(`${n}/${role}`));
    }
    await waitFor(`requests through pair ${n}`, async () => (await statusViaProxy(p.client, OUTBOUND_PORT, `http://${p.service}:${APP_PORT}/`)) === 200, 30_000, children.get(`${n}/client`));
  };
  const mesh: MetricsMesh = {
    control,
    pair: (m) => PAIRS[nameOf(m)],
    pairName: nameOf,
    sidecar: (m, role) => children.get(`${nameOf(m)}/${role}`)!,
    async restart(m, role, profileDir) {
      // SIGTERM: the sidecar drains and exits, and node writes its profile.
      const n = nameOf(m);
      await children.get(`${n}/${role}`)!.stop(15_000);
      children.set(`${n}/${role}`, start(n, m, role, profileDir));
      await ready(n);
    },
    async swap() {
      await Promise.all([...children.values()].map((c) => c.stop(15_000)));
      onPair.name = onPair.name === "a" ? "b" : "a";
      for (const m of ["on", "off"] as const) for (const role of ["server", "client"] as const) children.set(`${nameOf(m)}/${role}`, start(nameOf(m), m, role));
      await ready("a");
      await ready("b");
    },
    async close() {
      await Promise.all([...children.values(), ...upstreams].map((c) => c.stop()));
      await control.close();
      rmSync(configDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    for (const [i, n] of (["a", "b"] as const).entries()) await waitFor(`the ${n} upstream`, () => answers(`http://${PAIRS[n].app}:${APP_PORT}/`), 15_000, upstreams[i]);
    await ready("a");
    await ready("b");
  } catch (err) {
    await mesh.close();
    throw err;
  }
  return mesh;
}
