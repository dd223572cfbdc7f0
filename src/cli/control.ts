import type { Command } from "commander";
import { createLogger } from "../log/logger.ts";
import { parseHostPort } from "./user-error.ts";
import { runUntilSignal } from "./lifecycle.ts";

export function registerControl(program: Command): void {
  program
    .command("control")
    .description("run the control plane: watch a folder of Istio YAML and serve xDS to proxies")
    .requiredOption("-c, --config <dir>", "folder of Istio YAML to watch")
    .option("--xds-address <host:port>", "where to serve plaintext xDS (development)", "127.0.0.1:15010")
    .option("--debug-address <host:port>", "where to serve debug endpoints", "127.0.0.1:15014")
    .option("--access-log", "turn on sidecar access logs mesh-wide (meshConfig.accessLogFile=/dev/stdout)", false)
    .option("--root-namespace <ns>", "the mesh's root namespace", "istio-system")
    .option("--parent-pid <pid>", "exit when this process exits (used by mizzen up)")
    .action(async (o: { config: string; xdsAddress: string; debugAddress: string; accessLog: boolean; rootNamespace: string; parentPid?: string }) => {
      // Loaded here, not at the top: `mizzen proxy` must not pay for the control plane's modules.
      const { startControl } = await import("../control/main.ts");
      const logger = createLogger({ name: "control" });
      const cp = await startControl({
        configDir: o.config,
        xds: parseHostPort("--xds-address", o.xdsAddress),
        debug: parseHostPort("--debug-address", o.debugAddress),
        accessLog: o.accessLog,
        rootNamespace: o.rootNamespace,
        logger,
      });
      runUntilSignal("control", cp.close, o.parentPid ? Number(o.parentPid) : undefined);
    });
}
