// The mesh bench/mtls.ts measures: the real control plane with its CA in this process (xDS
// over TLS, bootstrap tokens), and as child processes the upstream application and two
// sidecars started as `mizzen up` starts them (`mizzen proxy --ca-root ...` with
// MIZZEN_BOOTSTRAP_TOKEN). Between the sidecars, plaintext or mTLS is chosen by rewriting one
// YAML file the control plane watches; applyMode() returns once both proxies run that config.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControl, type ControlPlane } from "../../src/control/main.ts";
import { workloadIdentity } from "../../src/ca/index.ts";
import { sidecarNodeFlags } from "../../src/run/stripped-modules.ts";
import { answers, listening, startChild, statusViaProxy, waitFor, type BenchChild } from "./children.ts";
import { readConfig, readStats } from "./sidecar-admin.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO, "src/cli/main.ts");
const UPSTREAM_SCRIPT = join(REPO, "bench/upstream-server.ts");

// Our own loopback /24s (sidecar-throughput uses 127.99): pods on .1.n, the application on .2.1.
export const SERVER_POD = "127.140.1.1";
export const CLIENT_POD = "127.140.1.2";
export const APP_HOST = "127.140.2.1";
export const APP_PORT = 8080;
export const ADMIN_PORT = 15000;
export const OUTBOUND_PORT = 15001;
export const SERVICE_HOST = "upstream.default.svc.cluster.local";
const TRUST_DOMAIN = "cluster.local";

/** How the two sidecars talk: plaintext or mTLS, and whether each request gets its own connection. */
export interface MeshMode {
  security: "plaintext" | "mtls";
  /** DestinationRule connectionPool.http.maxRequestsPerConnection: 1 (a new A -> B connection, so a handshake, per request). */
  newConnectionPerRequest: boolean;
}

const SERVICE_YAML = `apiVersion: v1
kind: Service
metadata: { name: upstream, namespace: default }
spec:
  selector: { app: upstream }
  ports: [{ name: http, port: ${APP_PORT} }]
`;

/**
 * plaintext: PeerAuthentication DISABLE mesh-wide (the server has only a plaintext chain) and
 * DestinationRule tls DISABLE (the client sends plaintext). mtls: PeerAuthentication STRICT
 * (plaintext would be refused) and no tls setting, so the client uses Istio's auto mTLS.
 */
export function modeYaml(m: MeshMode): string {
  const pa = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: ${m.security === "mtls" ? "STRICT" : "DISABLE"} }
`;
  const policy: string[] = [];
  if (m.security === "plaintext") policy.push("    tls: { mode: DISABLE }");
  if (m.newConnectionPerRequest) policy.push("    connectionPool: { http: { maxRequestsPerConnection: 1 } }");
  if (!policy.length) return pa;
  return `${pa}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: upstream, namespace: default }
spec:
  host: ${SERVICE_HOST}
  trafficPolicy:
${policy.join("\n")}
`;
}

export function modeName(m: MeshMode): string {
  return `${m.security}${m.newConnectionPerRequest ? " (new connection per request)" : ""}`;
}

type Dumped = Awaited<ReturnType<typeof readConfig>>;

/** True when the client sidecar's cluster for the service is configured as `m` says. */
export function clientRunsMode(d: Dumped, m: MeshMode): boolean {
  const c = d.clusters.find((x) => x.name === `outbound|${APP_PORT}||${SERVICE_HOST}`);
  if (!c) return false;
  const tls = JSON.stringify([c.transport_socket ?? null, c.transport_socket_matches ?? null]).includes("envoy.transport_sockets.tls");
  const perConn = (c.common_http_protocol_options as { max_requests_per_connection?: { value?: number } } | undefined)?.max_requests_per_connection?.value;
  return tls === (m.security === "mtls") && (perConn === 1) === m.newConnectionPerRequest;
}

/** True when every filter chain of the server's inbound listener on the app port is TLS (mtls) or none is (plaintext). */
export function serverRunsMode(d: Dumped, m: MeshMode): boolean {
  const onPort = d.listeners.filter((l) => JSON.stringify(l.address ?? "").includes(`"port_value":${APP_PORT}`));
  if (!onPort.length) return false;
  const chains = onPort.flatMap((l) => (l.filter_chains as { filter_chain_match?: { transport_protocol?: string } }[] | undefined) ?? []);
  if (!chains.length) return false;
  const tls = chains.map((c) => c.filter_chain_match?.transport_protocol === "tls");
  return m.security === "mtls" ? tls.every(Boolean) : !tls.some(Boolean);
}

export interface MtlsMesh {
  control: ControlPlane;
  upstream: BenchChild;
  server: BenchChild;
  client: BenchChild;
  /** The config the proxies run now. */
  mode: MeshMode;
  applyMode(m: MeshMode): Promise<void>;
  /** Restarts one sidecar, under `node --cpu-prof` into profileDir when given. */
  restartSidecar(role: "server" | "client", profileDir?: string): Promise<void>;
  close(): Promise<void>;
}

interface Pod {
  role: "server" | "client";
  ip: string;
  token: string;
}

function sidecarArgs(xdsPort: number, caRoot: string, pod: Pod, profileDir?: string): string[] {
  const node = [...sidecarNodeFlags(), ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
  const common = ["--xds", `127.0.0.1:${xdsPort}`, "--ca-root", caRoot, "--admin-port", String(ADMIN_PORT), "--namespace", "default"];
  const who = pod.role === "server"
    ? ["--ip", pod.ip, "--name", "upstream-v1", "--service-account", "upstream", "--labels", "app=upstream,version=v1", "--ports", `http:${APP_PORT}`, "--app-address", APP_HOST]
    : ["--ip", pod.ip, "--name", "client", "--service-account", "client", "--labels", "app=client"];
  return [...node, CLI, "proxy", ...common, ...who];
}

async function checkFree(): Promise<void> {
  const addrs = [[SERVER_POD, ADMIN_PORT], [SERVER_POD, APP_PORT], [SERVER_POD, OUTBOUND_PORT], [CLIENT_POD, ADMIN_PORT], [CLIENT_POD, OUTBOUND_PORT], [APP_HOST, APP_PORT]] as const;
  for (const [h, p] of addrs) {
    if (await listening(h, p)) throw new Error(`${h}:${p} is already in use (another benchmark running?); stop it and run again`);
  }
}

/** n sequential requests through the client sidecar; true when all answer 200. */
async function throughMesh(n: number): Promise<boolean> {
  for (let i = 0; i < n; i++) {
    if ((await statusViaProxy(CLIENT_POD, OUTBOUND_PORT, `http://upstream:${APP_PORT}/`)) !== 200) return false;
  }
  return true;
}

/** Requests pass, and the server's port accepts plaintext only when the mode says so. */
async function behavesAs(m: MeshMode): Promise<boolean> {
  if (!(await throughMesh(3))) return false;
  return (await answers(`http://${SERVER_POD}:${APP_PORT}/`)) === (m.security === "plaintext");
}

/**
 * Why applyMode restarts the client sidecar when plaintext/mTLS changes: the running proxy keeps
 * the transport of its endpoints until the endpoint list itself changes
 * (ClusterRuntime.balancerFor reuses the balancer, and the EndpointAddress objects with their
 * old `tls`, while keys and weights are equal), so after DestinationRule tls DISABLE -> auto
 * mTLS it still sends plaintext (503 UC against STRICT), and the other way round still TLS.
 */
export const RESTART_CLIENT_REASON = "a cluster update that changes only the transport socket is not applied to a running proxy's endpoints (src/proxy/upstream/cluster-runtime.ts balancerFor)";

export async function startMtlsMesh(initial: MeshMode, log: (l: string) => void, restartClientOnSecurityChange = true): Promise<MtlsMesh> {
  await checkFree();
  const configDir = mkdtempSync(join(tmpdir(), "mizzen-bench-mtls-config-"));
  const dataDir = mkdtempSync(join(tmpdir(), "mizzen-bench-mtls-data-"));
  writeFileSync(join(configDir, "upstream.yaml"), SERVICE_YAML);
  const writeMode = (m: MeshMode) => {
    // Write then rename, so the directory watch never reads half a file.
    writeFileSync(join(configDir, ".mode.tmp"), modeYaml(m));
    renameSync(join(configDir, ".mode.tmp"), join(configDir, "mode.yaml"));
  };
  writeMode(initial);
  const control = await startControl({
    configDir,
    secureXds: { host: "127.0.0.1", port: 0 },
    security: { dataDir },
    debug: { host: "127.0.0.1", port: 0 },
    accessLog: false,
  });
  const security = control.security!;
  log(`control plane in-process, xDS and CA over TLS on 127.0.0.1:${control.secureXdsPort}, root ${security.rootFile}`);
  const pods: Record<Pod["role"], Pod> = {
    server: { role: "server", ip: SERVER_POD, token: security.tokens.issue(workloadIdentity(TRUST_DOMAIN, "default", "upstream")) },
    client: { role: "client", ip: CLIENT_POD, token: security.tokens.issue(workloadIdentity(TRUST_DOMAIN, "default", "client")) },
  };
  const startSidecar = (pod: Pod, profileDir?: string) =>
    // Text logs, no access log (accessLog: false above): we measure forwarding, not the terminal.
    startChild(`${pod.role} sidecar`, process.execPath, sidecarArgs(control.secureXdsPort, security.rootFile, pod, profileDir), {
      ...process.env,
      MIZZEN_LOG_FORMAT: "text",
      MIZZEN_BOOTSTRAP_TOKEN: pod.token,
    });
  const upstream = startChild("upstream", process.execPath, [UPSTREAM_SCRIPT], { ...process.env, HOST: APP_HOST, PORT: String(APP_PORT) });
  const mesh: MtlsMesh = {
    control,
    upstream,
    server: startSidecar(pods.server),
    client: startSidecar(pods.client),
    mode: initial,
    async applyMode(m) {
      writeMode(m);
      await waitFor(`both sidecars to run ${modeName(m)}`, async () => {
        try {
          return clientRunsMode(await readConfig(CLIENT_POD, ADMIN_PORT), m) && serverRunsMode(await readConfig(SERVER_POD, ADMIN_PORT), m);
        } catch {
          return false;
        }
      }, 30_000);
      const securityChanged = m.security !== mesh.mode.security;
      mesh.mode = m;
      if (securityChanged && restartClientOnSecurityChange) {
        // Work-around, see RESTART_CLIENT_REASON: a fresh client sidecar uses the new transport.
        await mesh.client.stop();
        mesh.client = startSidecar(pods.client);
        await waitReady(mesh);
      }
      await waitFor(`requests through the mesh in ${modeName(m)}`, () => behavesAs(m), 30_000, mesh.client);
    },
    async restartSidecar(role, profileDir) {
      // SIGTERM: the sidecar drains (up to 5 s) and exits, and node writes its profile; no SIGKILL before that.
      await mesh[role].stop(15_000);
      mesh[role] = startSidecar(pods[role], profileDir);
      await waitReady(mesh);
    },
    async close() {
      await Promise.all([mesh.client.stop(), mesh.server.stop(), mesh.upstream.stop()]);
      await control.close();
      rmSync(configDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor("the upstream to listen", () => answers(`http://${APP_HOST}:${APP_PORT}/`), 15_000, upstream);
    await waitReady(mesh);
  } catch (err) {
    await mesh.close();
    throw err;
  }
  return mesh;
}

async function waitReady(mesh: MtlsMesh): Promise<void> {
  await waitFor("the server sidecar's admin /ready", () => answers(`http://${SERVER_POD}:${ADMIN_PORT}/ready`), 30_000, mesh.server);
  await waitFor("the client sidecar's admin /ready", () => answers(`http://${CLIENT_POD}:${ADMIN_PORT}/ready`), 30_000, mesh.client);
  await waitFor(`requests through the mesh in ${modeName(mesh.mode)}`, () => behavesAs(mesh.mode), 30_000, mesh.client);
  // The workload certificate is in use: under mTLS the server has completed a handshake.
  if (mesh.mode.security === "mtls" && ((await readStats(SERVER_POD, ADMIN_PORT)).get("downstream_cx_ssl_total") ?? 0) < 1) {
    throw new Error("requests pass in mtls mode but the server sidecar counted no TLS handshake");
  }
}
