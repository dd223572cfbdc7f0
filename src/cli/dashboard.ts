// `mizzen dashboard`: the control plane serves the dashboard itself (on its debug address,
// /dashboard/); this command checks that it answers and that the page is built, prints the
// URL, and with --browser opens it with xdg-open.
import type { Command } from "commander";
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { CONTROL_FIX, DEFAULT_CONTROL, controlBase, controlJson, type Output } from "./inspect-common.ts";
import { UserError } from "./user-error.ts";

export interface DashboardCommandOptions {
  /** The control plane's debug address, host:port. */
  control: string;
  browser?: boolean;
}

/** An executable named `name` on PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Starts xdg-open on the URL without waiting for it; false when there is none. */
export function openInBrowser(url: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const opener = findOnPath("xdg-open", env.PATH);
  if (!opener) return false;
  const child = spawn(opener, [url], { detached: true, stdio: "ignore", env });
  child.on("error", () => {}); // a broken opener must not take the command down
  child.unref();
  return true;
}

/** Prints where the dashboard is; returns the exit code (1 when the page is not built). */
export async function dashboardCommand(o: DashboardCommandOptions, out: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const base = controlBase(o.control);
  const { proxies } = await controlJson<{ proxies?: unknown[] }>(o.control, "/api/dashboard/proxies");
  const url = `${base}/dashboard/`;
  let page: Response;
  try {
    page = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await page.arrayBuffer();
  } catch (err) {
    throw new UserError(`the control plane at ${o.control} stopped answering (${(err as Error).message}); ${CONTROL_FIX}`);
  }
  const count = proxies?.length ?? 0;
  out.log(`Mizzen dashboard: ${url}   (${count} prox${count === 1 ? "y" : "ies"} connected)`);
  if (page.status === 503) {
    out.log("the dashboard is not built: run `npm run build:ui`, then reload the page (the API under /api/dashboard/ already answers)");
    return 1;
  }
  if (page.status !== 200) {
    out.log(`the control plane answered ${url} with status ${page.status}; is --control ${o.control} a Mizzen control plane's debug address?`);
    return 1;
  }
  if (o.browser && !openInBrowser(url, env)) out.log("xdg-open was not found on PATH: open the URL above in a browser");
  return 0;
}

export function registerDashboard(program: Command): void {
  program
    .command("dashboard")
    .description("print the address of the live service-graph dashboard the control plane serves (--browser opens it)")
    .option("--control <host:port>", "the control plane's debug address", DEFAULT_CONTROL)
    .option("--browser", "open the dashboard with xdg-open", false)
    .action(async (o: DashboardCommandOptions) => {
      process.exitCode = await dashboardCommand(o, { log: (l) => console.log(l) });
    });
}
