import type { Command } from "commander";
import { parseHostPort, UserError } from "./user-error.ts";
import { existsSync } from "node:fs";

interface UpFlags { subnet: string; xdsAddress: string; debugAddress: string; accessLog: boolean }

function upOptions(o: UpFlags) {
  const subnet = Number(o.subnet);
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) {
    throw new UserError(`--subnet "${o.subnet}" must be a number 1..254 (pods get 127.<subnet>.1.N)`);
  }
  parseHostPort("--xds-address", o.xdsAddress);
  parseHostPort("--debug-address", o.debugAddress);
  return { subnet, xdsAddress: o.xdsAddress, debugAddress: o.debugAddress, accessLog: o.accessLog };
}

// Access logs are off by default as in Istio (Telemetry or --access-log turn them on), and on
// in the demo, whose tour reads them.
function withUpFlags(cmd: Command, accessLogByDefault: boolean): Command {
  cmd
    .option("--subnet <n>", "local mesh subnet: pods get 127.<n>.1.N", "10")
    .option("--xds-address <host:port>", "control plane xDS and CA address (TLS)", "127.0.0.1:15012")
    .option("--debug-address <host:port>", "control plane debug address", "127.0.0.1:15014");
  if (accessLogByDefault) return cmd.option("--no-access-log", "turn off sidecar access logs");
  return cmd.option("--access-log", "turn on sidecar access logs mesh-wide (Telemetry accessLogging works either way)", false);
}

async function runToEnd(started: Promise<{ stop(): Promise<void>; done: Promise<void> }>): Promise<void> {
  const mesh = await started;
  await mesh.done;
}

export function registerUp(program: Command): void {
  withUpFlags(
    program
      .command("up")
      .argument("<dir>", "folder with Istio YAML files and a workloads.yaml")
      .description("start the mesh a folder describes: control plane, and each workload with its own sidecar"),
    false,
  ).action(async (dir: string, o: UpFlags) => {
    if (!existsSync(dir)) throw new UserError(`folder ${dir} does not exist; pass a folder with Istio YAML and a workloads.yaml (see examples/bookinfo)`);
    const { up } = await import("../run/up.ts"); // loaded only when used: see main.ts
    await runToEnd(up({ dir, ...upOptions(o) }));
  });

  withUpFlags(
    program.command("demo").description("start the Bookinfo demo mesh and print a short tour"),
    true,
  ).action(async (o: UpFlags) => {
    const { demo } = await import("../run/up.ts");
    await runToEnd(demo(upOptions(o)));
  });
}
