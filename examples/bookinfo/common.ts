// Helpers shared by the Bookinfo services. Deliberately no mesh code: outbound calls are plain
// node:http requests to service names ("http://reviews:9080/..."); the sidecar gets them
// because `mizzen up` sets HTTP_PROXY and NODE_USE_ENV_PROXY=1 in the environment.
import http from "node:http";

/** Headers Istio's Bookinfo passes from an incoming request to the calls it makes. */
export const FORWARDED_HEADERS = [
  "x-request-id",
  "traceparent",
  "tracestate",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "x-ot-span-context",
  "x-cloud-trace-context",
  "grpc-trace-bin",
  "sw8",
  "end-user",
  "user-agent",
  "cookie",
];

export function forwardedHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = req.headers[name];
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface CallResult<T> {
  ok: boolean;
  status: number;
  body?: T;
  /** What went wrong, for the page: a connection error or a non-200 answer's text. */
  error?: string;
}

/** GET a JSON document; never throws: failures come back as { ok: false, error }. */
export function getJson<T>(url: string, headers: Record<string, string>, timeoutMs = 3000): Promise<CallResult<T>> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("error", (err) => resolve({ ok: false, status: res.statusCode ?? 0, error: err.message }));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status !== 200) return resolve({ ok: false, status, error: text.trim().slice(0, 300) || res.statusMessage || "error" });
        try {
          resolve({ ok: true, status, body: JSON.parse(text) as T });
        } catch {
          resolve({ ok: false, status, error: `not JSON: ${text.slice(0, 100)}` });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ ok: false, status: 0, error: err.message }));
  });
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** Starts the service on HOST:PORT (the runner sets both) and stops cleanly on SIGTERM. */
export function serve(name: string, defaultPort: number, handler: Handler): http.Server {
  const host = process.env.HOST ?? "127.0.0.1";
  const port = Number(process.env.PORT ?? defaultPort);
  const server = http.createServer((req, res) => {
    const failed = (err: unknown) => {
      console.error(`${name}: ${req.method} ${req.url} failed: ${(err as Error)?.message ?? err}`);
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error)?.message ?? String(err) });
      else res.destroy();
    };
    try {
      Promise.resolve(handler(req, res)).catch(failed);
    } catch (err) {
      failed(err);
    }
  });
  server.listen(port, host, () => console.log(`${name} listening on http://${host}:${port}`));
  server.on("error", (err) => {
    console.error(`${name}: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return server;
}

/** The id in "/<prefix>/<id>", or undefined when the path does not have that shape. */
export function pathId(url: string | undefined, prefix: string): string | undefined {
  const path = (url ?? "/").split("?")[0]!;
  const m = new RegExp(`^/${prefix}/([^/]+)/?$`).exec(path);
  return m ? decodeURIComponent(m[1]!) : undefined;
}
