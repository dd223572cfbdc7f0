// `mizzen up DIR`: the control plane, then for every pod its sidecar (waited ready) and its
// application, all as supervised child processes; Ctrl-C stops them in reverse order.
import { MESH_CONFIG_FILE } from "../api/load.ts";
import { fileURLToPath, pathToFileURL } from "node:url";
import { delimiter, dirname, join, resolve } from "node:path";
import { UserError, parseHostPort } from "../cli/user-error.ts";
import { ADMIN_PORT, OUTBOUND_PORT, planPods, plannedListeners, type PodPlan } from "./addresses.ts";
import { busyPorts, NotReadyError, waitListening, waitReady, type PlannedListener } from "./probes.ts";
import { formatSummary, type SummaryService } from "./summary.ts";
import { Supervisor, type SupervisedChild } from "./supervisor.ts";
import { readWorkloadsFile, WorkloadsFileError, type WorkloadPort } from "./workloads-file.ts";
import { sidecarNodeFlags } from "./stripped-modules.ts";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { BootstrapTokens } from "../ca/tokens.ts";
import { workloadIdentity } from "../ca/identity.ts";

/** Where the control plane keeps token hashes (src/control/security.ts reads the same name). */
const TOKEN_STORE_FILE = "tokens.json";
/** Istio's MeshConfig for the mesh in DIR (src/api/load.ts skips it as config). */

export { demo } from "./demo.ts";

const CLI_MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const PARENT_WATCH = pathToFileURL(fileURLToPath(new URL("./parent-watch.ts", import.meta.url))).href;

/** Ctrl-C, kill, and the terminal closing all stop the mesh in order. */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** How to run one `mizzen` subcommand; tests swap in stand-ins. */
export type CommandFor = (sub: "control" | "proxy", args: string[]) => { command: string; args: string[] };

// Sidecars get sidecarNodeFlags(): pre-stripped modules and a small young generation, which
// bench/memory.ts measured at ~40 MiB less per sidecar (see stripped-modules.ts).
export const defaultCommandFor: CommandFor = (sub, args) => ({
  command: process.execPath,
  args: [...(sub === "proxy" ? sidecarNodeFlags() : []), CLI_MAIN, sub, ...args],
});

export interface UpOptions {
  dir: string;
  /** S in 127.S.1.n (default 10). */
  subnet?: number;
  /** The control plane's xDS + CA address over TLS (default 127.0.0.1:15012). */
  xdsAddress?: string;
  debugAddress?: string;
  /** The CA root and token store (default DIR/.mizzen; the root is reused across runs). */
  dataDir?: string;
  accessLog?: boolean;
  out?: NodeJS.WritableStream;
  commandFor?: CommandFor;
  /** Stop on SIGINT/SIGTERM and kill children if the runner exits (default true; tests pass false). */
  handleSignals?: boolean;
  /** Per control plane / sidecar (default 30000 ms). */
  readyTimeoutMs?: number;
  /** How long the summary waits for each app to listen (default 10000 ms; never fatal). */
  appListenWaitMs?: number;
  /** Supervisor tuning, mostly for tests. */
  stopGraceMs?: number;
  initialBackoffMs?: number;
}

export interface RunningWorkload {
  /** Pod name (the workload name, or "<name>-<i>" for replicas). */
  name: string;
  workload: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ports: WorkloadPort[];
  podIp: string;
  appAddress: string;
  adminUrl: string;
  sidecar: SupervisedChild;
  app: SupervisedChild;
}

export interface RunningMesh {
  /** Stops apps, then sidecars, then the control plane. Safe to call twice. */
  stop(): Promise<void>;
  workloads: RunningWorkload[];
  control: SupervisedChild;
  /** Resolves once the mesh has been stopped (by stop() or a signal). */
  done: Promise<void>;
}

/** Environment of an application: where it listens, who it is, and its sidecar as HTTP proxy. */
export function appEnv(pod: PodPlan, controlHost: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const proxy = `http://${pod.podIp}:${OUTBOUND_PORT}`;
  const noProxy = [...new Set([controlHost, "localhost", "127.0.0.1"])].join(",");
  const env: NodeJS.ProcessEnv = {
    ...base,
    HOST: pod.appAddress,
    POD_IP: pod.podIp,
    POD_NAME: pod.podName,
    POD_NAMESPACE: pod.spec.namespace,
    SERVICE_ACCOUNT: pod.spec.serviceAccount,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node 24 honours HTTP_PROXY for fetch and node:http only when this is set.
    NODE_USE_ENV_PROXY: "1",
    MIZZEN_PARENT_PID: String(process.pid),
    // "node" inside a shell command means the same Node as the runner's.
    PATH: [dirname(process.execPath), base.PATH].filter(Boolean).join(delimiter),
  };
  if (pod.spec.ports[0]) env.PORT = String(pod.spec.ports[0].port);
  else delete env.PORT;
  return { ...env, ...pod.spec.env };
}

/** argv for an application: "node" is this Node (with the parent watch), a string runs in sh. */
export function appCommand(command: string[] | string): { command: string; args: string[] } {
  if (typeof command === "string") return { command: "/bin/sh", args: ["-c", command] };
  const [first, ...rest] = command;
  if (first === "node") return { command: process.execPath, args: ["--import", PARENT_WATCH, ...rest] };
  return { command: first!, args: rest };
}

function proxyArgs(pod: PodPlan, xdsAddress: string, caRoot: string): string[] {
  const labels = Object.entries(pod.spec.labels).map(([k, v]) => `${k}=${v}`).join(",");
  const ports = pod.spec.ports.map((p) => `${p.name}:${p.port}`).join(",");
  return [
    "--xds", xdsAddress, "--ip", pod.podIp, "--name", pod.podName, "--namespace", pod.spec.namespace,
    "--labels", labels, "--service-account", pod.spec.serviceAccount, "--ports", ports,
    "--app-address", pod.appAddress, "--admin-port", String(ADMIN_PORT), "--parent-pid", String(process.pid),
    "--ca-root", caRoot,
  ];
}

/** A fresh token store for this run (tokens of earlier runs stop working) and one token per pod. */
export function issueRunTokens(dataDir: string, pods: readonly PodPlan[], trustDomain = "cluster.local"): Map<string, string> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  rmSync(join(dataDir, TOKEN_STORE_FILE), { force: true });
  const store = new BootstrapTokens({ file: join(dataDir, TOKEN_STORE_FILE) });
  const out = new Map<string, string>();
  for (const pod of pods) out.set(pod.podName, store.issue(workloadIdentity(trustDomain, pod.spec.namespace, pod.spec.serviceAccount)));
  return out;
}

async function loadPods(dir: string, subnet: number): Promise<PodPlan[]> {
  try {
    return planPods(await readWorkloadsFile(join(dir, "workloads.yaml")), subnet);
  } catch (err) {
    if (err instanceof WorkloadsFileError || err instanceof RangeError) throw new UserError(err.message);
    throw err;
  }
}

export async function up(opts: UpOptions): Promise<RunningMesh> {
  const dir = resolve(opts.dir);
  const subnet = opts.subnet ?? 10;
  const xdsAddress = opts.xdsAddress ?? "127.0.0.1:15012";
  const dataDir = resolve(opts.dataDir ?? join(dir, ".mizzen"));
  const debugAddress = opts.debugAddress ?? "127.0.0.1:15014";
  const out = opts.out ?? process.stdout;
  const commandFor = opts.commandFor ?? defaultCommandFor;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const xds = parseHostPort("--xds-address", xdsAddress);
  const debug = parseHostPort("--debug-address", debugAddress);

  const pods = await loadPods(dir, subnet);
  const listeners: PlannedListener[] = [
    { host: xds.host, port: xds.port, owner: "control plane xDS", flag: "--xds-address" },
    { host: debug.host, port: debug.port, owner: "control plane debug", flag: "--debug-address" },
    ...plannedListeners(pods),
  ];
  const busy = await busyPorts(listeners);
  if (busy.length) throw new UserError(busy.slice(0, 5).join("\n") + (busy.length > 5 ? `\n(and ${busy.length - 5} more)` : ""));

  const labelWidth = Math.max("control".length, "mizzen".length, ...pods.map((p) => `${p.podName} sidecar`.length));
  const sup = new Supervisor({
    out,
    labelWidth,
    color: (out as { isTTY?: boolean }).isTTY === true,
    stopGraceMs: opts.stopGraceMs,
    initialBackoffMs: opts.initialBackoffMs,
  });
  const toolEnv = { ...process.env, MIZZEN_LOG_FORMAT: process.env.MIZZEN_LOG_FORMAT ?? "text" };

  let stopping: Promise<void> | undefined;
  let markDone!: () => void;
  const done = new Promise<void>((r) => (markDone = r));
  const workloads: RunningWorkload[] = [];
  const apps: SupervisedChild[] = [];
  const sidecars: SupervisedChild[] = [];
  const killOnExit = () => sup.killAllNow();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      sup.note(`${sig} again: killing everything now`);
      sup.killAllNow();
      return;
    }
    sup.note(`${sig}: stopping applications, then sidecars, then the control plane`);
    void stop();
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(apps.map((c) => c.stop()));
      await Promise.all(sidecars.map((c) => c.stop()));
      await control.stop();
      if (opts.handleSignals !== false) {
        for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
        process.off("exit", killOnExit);
      }
      markDone();
    })();
    return stopping;
  };
  if (opts.handleSignals !== false) {
    for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
    process.on("exit", killOnExit);
  }

  // Each pod's sidecar proves its identity with a token made for this run only (see src/ca/tokens.ts).
  const tokens = issueRunTokens(dataDir, pods);
  const caRoot = join(dataDir, "ca", "root-cert.pem");
  const controlArgs = ["--config", dir, "--xds-address", xdsAddress, "--debug-address", debugAddress, "--parent-pid", String(process.pid), "--data-dir", dataDir];
  if (opts.accessLog !== false) controlArgs.push("--access-log");
  // Istio's MeshConfig beside the workloads file (tracing providers etc.); see docs/observability.md.
  if (existsSync(join(dir, MESH_CONFIG_FILE))) controlArgs.push("--mesh-config", join(dir, MESH_CONFIG_FILE));
  const control = sup.start({ label: "control", ...commandFor("control", controlArgs), cwd: dir, env: toolEnv });

  const startPod = async (pod: PodPlan): Promise<void> => {
    // The token goes to the sidecar alone, never to the application.
    const sidecarEnv = { ...toolEnv, MIZZEN_BOOTSTRAP_TOKEN: tokens.get(pod.podName) };
    const sidecar = sup.start({ label: `${pod.podName} sidecar`, ...commandFor("proxy", proxyArgs(pod, xdsAddress, caRoot)), cwd: dir, env: sidecarEnv });
    sidecars.push(sidecar);
    const adminUrl = `http://${pod.podIp}:${ADMIN_PORT}`;
    await waitReady(`${adminUrl}/ready`, sidecar, readyTimeoutMs, `the sidecar of ${pod.podName}`);
    if (stopping) return;
    const app = sup.start({ label: pod.podName, ...appCommand(pod.spec.command), cwd: dir, env: appEnv(pod, xds.host) });
    apps.push(app);
    workloads.push({
      name: pod.podName, workload: pod.spec.name, namespace: pod.spec.namespace, serviceAccount: pod.spec.serviceAccount,
      labels: pod.spec.labels, ports: pod.spec.ports, podIp: pod.podIp, appAddress: pod.appAddress, adminUrl, sidecar, app,
    });
  };

  try {
    await waitReady(`http://${debugAddress}/ready`, control, readyTimeoutMs, "the control plane");
    const results = await Promise.allSettled(pods.map(startPod));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (err) {
    const stoppedOnRequest = stopping !== undefined; // Ctrl-C during start-up is not an error
    await stop();
    if (stoppedOnRequest) return { stop, workloads, control, done };
    if (err instanceof NotReadyError) throw new UserError(err.message);
    throw err;
  }
  if (stopping) return { stop, workloads, control, done };

  // The summary is most useful once the apps answer; a slow one is named, not fatal.
  const slow: string[] = [];
  await Promise.all(workloads.map(async (w) => {
    if (w.ports[0] && !(await waitListening(w.appAddress, w.ports[0].port, opts.appListenWaitMs ?? 10_000))) slow.push(w.name);
  }));
  if (stopping) return { stop, workloads, control, done };
  if (slow.length) sup.note(`not listening yet: ${slow.join(", ")} (see their output above)`);
  // Keep file order for the summary and for callers (pods started concurrently).
  workloads.sort((a, b) => pods.findIndex((p) => p.podName === a.name) - pods.findIndex((p) => p.podName === b.name));
  // "Up" means routable: wait (bounded) until the control plane has every workload healthy.
  const services = await registryWhenHealthy(debugAddress, workloads.filter((w) => w.ports.length > 0).map((w) => w.name), opts.appListenWaitMs ?? 10_000);
  out.write(formatSummary({ dir, xdsAddress, debugAddress, services, pods: pods.map((p) => ({ ...p, namespace: p.spec.namespace, labels: p.spec.labels, ports: p.spec.ports })) }));
  return { stop, workloads, control, done };
}

interface RegistryView {
  services?: SummaryService[];
  workloads?: { name: string; healthy?: boolean }[];
}

/**
 * The services the control plane knows, for the summary, once every named workload is healthy
 * in its registry (or the wait ran out). None if the control plane cannot be asked.
 */
async function registryWhenHealthy(debugAddress: string, names: string[], timeoutMs: number): Promise<SummaryService[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let view: RegistryView;
    try {
      const res = await fetch(`http://${debugAddress}/debug/registryz`, { signal: AbortSignal.timeout(2000) });
      view = (await res.json()) as RegistryView;
    } catch {
      return [];
    }
    const services = Array.isArray(view.services) ? view.services : [];
    const healthy = new Set((view.workloads ?? []).filter((w) => w.healthy !== false).map((w) => w.name));
    if (names.every((n) => healthy.has(n)) || Date.now() > deadline) return services;
    await new Promise((r) => setTimeout(r, 100));
  }
}
