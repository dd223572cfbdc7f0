// istiod-style debug endpoints on the control plane's monitoring port (15014): what config
// was accepted or rejected and why, what the registry holds, and what each proxy was sent
// and has ACKed or NACKed.
import http from "node:http";
import type { Logger } from "pino";

/** A string body goes out as text/plain unless `contentType` says otherwise; anything else as JSON. */
export type DebugHandler = (query: URLSearchParams) => { status?: number; body: unknown; contentType?: string };

export interface DebugServerOptions {
  host: string;
  port: number;
  routes: Record<string, DebugHandler>;
  logger: Logger;
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v), 2);
}

export async function startDebugServer(opts: DebugServerOptions): Promise<{ server: http.Server; port: number }> {
  const paths = Object.keys(opts.routes).sort();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://debug");
    const handler = opts.routes[url.pathname];
    if (req.method !== "GET" || !handler) {
      res.writeHead(url.pathname === "/" ? 200 : 404, { "content-type": "application/json" });
      res.end(toJson({ endpoints: paths }));
      return;
    }
    try {
      const { status = 200, body, contentType } = handler(url.searchParams);
      res.writeHead(status, { "content-type": contentType ?? (typeof body === "string" ? "text/plain" : "application/json") });
      res.end(typeof body === "string" ? body : toJson(body));
    } catch (err) {
      opts.logger.error({ err, path: url.pathname }, "debug endpoint failed");
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error: ${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : opts.port };
}
