// Registers the read-only inspection commands (proxy-status, proxy-config, describe). Their
// code is imported inside each action, so other subcommands never load it.
import type { Command } from "commander";
import { DEFAULT_CONTROL, type Output } from "./inspect-common.ts";

const stdout: Output = { log: (l) => console.log(l) };

function common(c: Command): Command {
  return c
    .option("--control <host:port>", "the control plane's debug address", DEFAULT_CONTROL)
    .option("-o, --output <format>", "json for machines; a table by default");
}

export function registerInspect(program: Command): void {
  common(program.command("proxy-status").description("each connected proxy and whether it has what it was sent (CDS LDS EDS RDS)"))
    .action(async (o: { control: string; output?: string }) => {
      const { proxyStatusCommand } = await import("./proxy-status.ts");
      process.exitCode = await proxyStatusCommand(o, stdout);
    });
  common(
    program
      .command("proxy-config")
      .description("one proxy's listeners, routes, clusters or endpoints, as the control plane sends them (or, with --from-proxy, as the sidecar holds them); secrets: its certificates, from the sidecar")
      .argument("<type>", "listeners | routes | clusters | endpoints | secrets")
      .argument("<proxy>", "NAME, NAME.NAMESPACE, pod IP or full node id (see mizzen proxy-status)")
      .option("--from-proxy", "read the sidecar's own admin /config_dump on <podIP>:15000", false),
  ).action(async (type: string, proxy: string, o: { control: string; output?: string; fromProxy: boolean }) => {
    const { proxyConfigCommand } = await import("./proxy-config.ts");
    process.exitCode = await proxyConfigCommand(type, proxy, o, stdout);
  });
  common(
    program
      .command("describe")
      .description("a service's ports, VirtualServices, DestinationRules, subsets and endpoints, with hints when something is off")
      .argument("<service>", "NAME (in -n NAMESPACE), NAME.NAMESPACE or a full host name")
      .option("-n, --namespace <ns>", "namespace of a short service name", "default"),
  ).action(async (service: string, o: { control: string; output?: string; namespace: string }) => {
    const { describeCommand } = await import("./describe.ts");
    process.exitCode = await describeCommand(service, o, stdout);
  });
}
