// Loaded with --import into a sidecar (see stripped-modules.ts, which stores this file,
// stripped, inside the cache directory it reads). For a .ts module whose source hash has a
// file in the cache, hands Node that JavaScript, so Node never loads its TypeScript stripper;
// any other module loads as usual. Node built-ins only: this runs before anything else.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

const cacheDir = new URL(".", import.meta.url);

registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith("file:") && url.endsWith(".ts")) {
      try {
        const source = readFileSync(fileURLToPath(url));
        const cached = new URL(`${createHash("sha256").update(source).digest("hex")}.js`, cacheDir);
        return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true };
      } catch {
        // not cached (or unreadable): Node strips it as usual and reports any real error
      }
    }
    return nextLoad(url, context);
  },
});
