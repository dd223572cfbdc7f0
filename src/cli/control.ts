import type { Command } from "commander";
import { resolve } from "node:path";
import { createLogger } from "../log/logger.ts";
import { parseDurationSeconds, parseHostPort, UserError } from "./user-error.ts";
import type { OutboundTrafficMode } from "../translate/mesh-config.ts";
import { runUntilSignal } from "./lifecycle.ts";

interface ControlFlags {
  config: string; xdsAddress: string; plaintextXdsAddress?: string; debugAddress: string; accessLog: boolean;
  rootNamespace: string; trustDomain: string; dataDir: string; cacerts?: string; certLifetime: string; parentPid?: string;
  outboundTrafficPolicy: string; meshConfig?: string;
}

/** --outbound-traffic-policy: Istio's two modes, case-insensitive; anything else is a user error naming them. */
export function parseOutboundTrafficPolicy(value: string): OutboundTrafficMode {
  const mode = value.toUpperCase();
  if (mode === "ALLOW_ANY" || mode === "REGISTRY_ONLY") return mode;
  throw new UserError(`--outbound-traffic-policy must be ALLOW_ANY (unknown hosts pass through) or REGISTRY_ONLY (unknown hosts get 502), not "${value}"`);
}

export function registerControl(program: Command): void {
  program
    .command("control")
    .description("run the control plane: watch a folder of Istio YAML, serve xDS and the CA to proxies")
    .requiredOption("-c, --config <dir>", "folder of Istio YAML to watch")
    .option("--xds-address <host:port>", "where to serve xDS and the CA over TLS (Istio's 15012)", "127.0.0.1:15012")
    .option("--plaintext-xds-address <host:port>", "also serve xDS in plaintext, without authentication (development only; Istio's 15010)")
    .option("--debug-address <host:port>", "where to serve debug endpoints", "127.0.0.1:15014")
    .option("--data-dir <dir>", "where the CA root (ca/) and the bootstrap-token store (tokens.json) are kept", ".mizzen")
    .option("--cacerts <dir>", "an operator's CA in Istio's cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)")
    .option("--trust-domain <domain>", "SPIFFE trust domain of workload identities", "cluster.local")
    .option("--cert-lifetime <duration>", "default lifetime of workload certificates (e.g. 24h, 90m)", "24h")
    .option("--access-log", "turn on sidecar access logs mesh-wide (meshConfig.accessLogFile=/dev/stdout)", false)
    .option("--root-namespace <ns>", "the mesh's root namespace", "istio-system")
    .option("--outbound-traffic-policy <mode>", "what sidecars do with hosts outside the registry: ALLOW_ANY (pass through) or REGISTRY_ONLY (502); a Sidecar may override it", "ALLOW_ANY")
    .option("--mesh-config <file>", "Istio MeshConfig YAML (extensionProviders, defaultProviders, defaultConfig.tracing, ...); its settings win over these flags")
    .option("--parent-pid <pid>", "exit when this process exits (used by mizzen up)")
    .action(async (o: ControlFlags) => {
      // Loaded here, not at the top: `mizzen proxy` must not pay for the control plane's modules.
      const outboundTrafficPolicy = parseOutboundTrafficPolicy(o.outboundTrafficPolicy);
      const { startControl } = await import("../control/main.ts");
      const logger = createLogger({ name: "control" });
      const cp = await startControl({
        configDir: o.config,
        secureXds: parseHostPort("--xds-address", o.xdsAddress),
        ...(o.plaintextXdsAddress ? { xds: parseHostPort("--plaintext-xds-address", o.plaintextXdsAddress) } : {}),
        security: {
          dataDir: resolve(o.dataDir),
          ...(o.cacerts ? { pluggedCaDir: resolve(o.cacerts) } : {}),
          trustDomain: o.trustDomain,
          certLifetimeSeconds: parseDurationSeconds("--cert-lifetime", o.certLifetime),
        },
        debug: parseHostPort("--debug-address", o.debugAddress),
        accessLog: o.accessLog,
        rootNamespace: o.rootNamespace,
        outboundTrafficPolicy,
        ...(o.meshConfig ? { meshConfigFile: resolve(o.meshConfig) } : {}),
        logger,
      });
      runUntilSignal("control", cp.close, o.parentPid ? Number(o.parentPid) : undefined);
    });
}
