import type { Command } from "commander";
import { createLogger } from "../log/logger.ts";
import type { ProxyNode } from "../xds/node.ts";
import { parseDurationSeconds, parseHostPort, parseLabels, parsePorts, UserError } from "./user-error.ts";
import { readFileSync } from "node:fs";
import { runUntilSignal } from "./lifecycle.ts";
import { isIP } from "node:net";

interface ProxyFlags {
  xds: string; ip: string; name: string; namespace: string; labels: string; serviceAccount: string;
  ports: string; appAddress?: string; adminPort: string; autoRegister: boolean; parentPid?: string;
  /** Default true; `--no-health-reporting` turns it off. */
  healthReporting?: boolean;
  /** Default true; `--no-metrics` turns Istio's standard metrics (and peer metadata exchange) off. */
  metrics?: boolean;
  caRoot?: string; tokenFile?: string; xdsServerName?: string; certLifetime?: string;
}

/** The secure mode's inputs: the mesh root to trust and this workload's bootstrap token. */
function securityFromFlags(o: ProxyFlags): { rootPem: string; token: string; serverName: string; certLifetimeSeconds?: number } | undefined {
  if (!o.caRoot) return undefined;
  let rootPem: string;
  try {
    rootPem = readFileSync(o.caRoot, "utf8");
  } catch (err) {
    throw new UserError(`--ca-root ${o.caRoot} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass the mesh root certificate the control plane wrote (<data-dir>/ca/root-cert.pem)`);
  }
  let token = process.env.MIZZEN_BOOTSTRAP_TOKEN ?? "";
  if (o.tokenFile) {
    try {
      token = readFileSync(o.tokenFile, "utf8").trim();
    } catch (err) {
      throw new UserError(`--token-file ${o.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (!token) throw new UserError("no bootstrap token: set MIZZEN_BOOTSTRAP_TOKEN or pass --token-file (issue one with `mizzen token issue --namespace NS --service-account SA`)");
  return { rootPem, token, serverName: o.xdsServerName ?? "mizzen-control", ...(o.certLifetime ? { certLifetimeSeconds: parseDurationSeconds("--cert-lifetime", o.certLifetime) } : {}) };
}

export function nodeFromFlags(o: ProxyFlags): ProxyNode {
  if (!isIP(o.ip)) throw new UserError(`--ip "${o.ip}" is not an IP address; pass the workload's address, like --ip 127.10.1.1`);
  if (o.appAddress && !isIP(o.appAddress)) throw new UserError(`--app-address "${o.appAddress}" is not an IP address`);
  return {
    id: `sidecar~${o.ip}~${o.name}.${o.namespace}~${o.namespace}.svc.cluster.local`,
    type: "sidecar",
    ip: o.ip,
    name: o.name,
    namespace: o.namespace,
    labels: parseLabels("--labels", o.labels),
    serviceAccount: o.serviceAccount,
    ports: parsePorts("--ports", o.ports),
    appAddress: o.appAddress ?? "127.0.0.1",
    interceptionMode: "NONE",
    autoRegister: o.autoRegister,
    // Only a registered workload has endpoints whose health matters.
    healthReporting: o.autoRegister && o.healthReporting !== false,
    proxyVersion: "mizzen-0.1.0",
  };
}

export function registerProxy(program: Command): void {
  program
    .command("proxy")
    .description("run a sidecar proxy for one workload; it obeys the control plane over xDS")
    .option("--xds <host:port>", "control plane xDS and CA address (TLS with --ca-root; plaintext without)", "127.0.0.1:15012")
    .option("--ca-root <file>", "mesh root certificate: turns on TLS to the control plane, a workload certificate and mTLS")
    .option("--token-file <file>", "file holding this workload's bootstrap token (default: $MIZZEN_BOOTSTRAP_TOKEN)")
    .option("--xds-server-name <name>", "DNS name on the control plane's certificate", "mizzen-control")
    .option("--cert-lifetime <duration>", "requested workload certificate lifetime (default: the CA's, 24h)")
    .requiredOption("--ip <ip>", "the workload's own address (pod IP); the sidecar listens on it")
    .requiredOption("--name <name>", "workload name")
    .option("--namespace <ns>", "workload namespace", "default")
    .option("--labels <k=v,...>", "workload labels", "")
    .option("--service-account <sa>", "workload service account", "default")
    .option("--ports <name:port,...>", "ports the application serves", "")
    .option("--app-address <ip>", "where the application listens (inbound traffic goes there)")
    .option("--admin-port <port>", "admin port on the pod IP", "15000")
    .option("--no-auto-register", "do not register this workload in the control plane's registry")
    .option("--no-health-reporting", "do not probe the application; its endpoints count as healthy from the start")
    .option("--parent-pid <pid>", "exit when this process exits (used by mizzen up)")
    .option("--no-metrics", "do not record Istio's standard metrics nor exchange peer metadata (the envoy_* counters stay)")
    .action(async (o: ProxyFlags) => {
      const node = nodeFromFlags(o);
      const logger = createLogger({ name: `proxy ${node.name}` });
      const admin = parseHostPort("--admin-port", `${node.ip}:${o.adminPort}`);
      parseHostPort("--xds", o.xds);
      const { startProxy } = await import("../proxy/main.ts"); // loaded only by this subcommand
      const security = securityFromFlags(o);
      if (!security) logger.warn({ xds: o.xds }, "no --ca-root: plaintext xDS, no workload certificate, no mTLS (development only)");
      const proxy = await startProxy({ xds: o.xds, node, adminAddress: admin, logger, ...(o.metrics === false ? { telemetry: false } : {}), ...(security ? { security } : {}) });
      runUntilSignal(`proxy ${node.name}`, proxy.close, o.parentPid ? Number(o.parentPid) : undefined);
    });
}
