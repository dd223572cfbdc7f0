// istiod-style debug endpoints on the control plane's monitoring port (15014): what config
// was accepted or rejected and why, what the registry holds, and what each proxy was sent
// and has ACKed or NACKed.
import http from "node:http";
import type { Logger } from "pino";

/**
 * A string body goes out as text/plain unless `contentType` says otherwise, a Buffer as it is
 * (application/octet-stream by default), anything else as JSON.
 */
export interface DebugReply { status?: number; body: unknown; contentType?: string; headers?: Record<string, string> }

/**
 * A handler may answer at once or later (a Promise). A route whose key ends in "/*" answers
 * every path under it; handlers get the request's path to tell them apart.
 */
export type DebugHandler = (query: URLSearchParams, path: string) => DebugReply | Promise<DebugReply>;

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
  const prefixes = paths.filter((p) => p.endsWith("/*")).map((p) => [p.slice(0, -1), opts.routes[p]] as const);
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://debug");
    const handler = opts.routes[url.pathname] ?? prefixes.find(([prefix]) => url.pathname.startsWith(prefix))?.[1];
    if (req.method !== "GET" || !handler) {
      res.writeHead(url.pathname === "/" ? 200 : 404, { "content-type": "application/json" });
      res.end(toJson({ endpoints: paths }));
      return;
    }
    try {
      const { status = 200, body, contentType, headers } = await handler(url.searchParams, url.pathname);
      const raw = Buffer.isBuffer(body);
      res.writeHead(status, { ...headers, "content-type": contentType ?? (raw ? "application/octet-stream" : typeof body === "string" ? "text/plain" : "application/json") });
      res.end(raw || typeof body === "string" ? body : toJson(body));
    } catch (err) {
      opts.logger.error({ err, path: url.pathname }, "debug endpoint failed");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error: ${(err as Error).message}\n`);
    }
  };
  const server = http.createServer((req, res) => void serve(req, res));
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
