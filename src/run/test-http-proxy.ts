// A tiny HTTP proxy for tests: it plays the sidecar's outbound port, mapping service names
// ("details:9080") to loopback addresses, for both absolute-form requests (node:http with
// NODE_USE_ENV_PROXY) and CONNECT tunnels (fetch), and records what it saw.
import http from "node:http";
import net from "node:net";

export interface SeenRequest {
  method: string;
  /** Absolute URL for forwarded requests, "host:port" for CONNECT. */
  target: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestProxy {
  url: string;
  seen: SeenRequest[];
  /** "name:port" -> where it really listens; edit to make a service unreachable. */
  routes: Map<string, { host: string; port: number }>;
  close(): Promise<void>;
}

export async function startTestProxy(host = "127.0.0.1"): Promise<TestProxy> {
  const seen: SeenRequest[] = [];
  const routes = new Map<string, { host: string; port: number }>();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? "", target: req.url ?? "", headers: req.headers });
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("expected an absolute-form request\n");
      return;
    }
    const to = routes.get(`${url.hostname}:${url.port || 80}`);
    if (!to) {
      res.writeHead(502).end(`test proxy: no route to ${url.host}\n`);
      return;
    }
    const up = http.request({ host: to.host, port: to.port, method: req.method, path: url.pathname + url.search, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`test proxy: ${err.message}\n`);
    });
    req.pipe(up);
  });
  server.on("connect", (req, socket: net.Socket, head) => {
    seen.push({ method: "CONNECT", target: req.url ?? "", headers: req.headers });
    const to = routes.get(req.url ?? "");
    if (!to) {
      socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const up = net.connect(to.port, to.host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://${host}:${port}`,
    seen,
    routes,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A port free on host right now (bound to 0 and released). */
export async function freePort(host: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
