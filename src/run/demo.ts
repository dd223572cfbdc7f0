// `mizzen demo`: `up` on the Bookinfo example, then a short tour of what to try.
import { fileURLToPath } from "node:url";
import { relative } from "node:path";
import { formatTour } from "./summary.ts";
import { up, type RunningMesh, type UpOptions } from "./up.ts";

export const BOOKINFO_DIR = fileURLToPath(new URL("../../examples/bookinfo", import.meta.url));

export async function demo(opts: Partial<UpOptions> = {}): Promise<RunningMesh> {
  const dir = opts.dir ?? BOOKINFO_DIR;
  const mesh = await up({ ...opts, dir });
  const productpage = mesh.workloads.find((w) => w.labels.app === "productpage") ?? mesh.workloads[0];
  if (productpage) {
    // Relative when the user stands near it, so the cp commands are short to type.
    const rel = relative(process.cwd(), dir);
    const shown = rel && !rel.startsWith("..") ? rel : dir;
    (opts.out ?? process.stdout).write(formatTour(shown, productpage.podIp));
  }
  // The control plane serves the dashboard on its debug address (src/control/dashboard/).
  const debug = opts.debugAddress ?? "127.0.0.1:15014";
  (opts.out ?? process.stdout).write(`Dashboard (live service graph): http://${debug}/dashboard/   or: npx mizzen dashboard --browser${debug === "127.0.0.1:15014" ? "" : ` --control ${debug}`}\n\n`);
  return mesh;
}
