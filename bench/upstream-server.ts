// The benchmark's application: answers every request with the same 1 KiB body, keep-alive.
// Started as its own process (HOST, PORT in the environment) so its CPU is not the bench's.
import { createServer } from "node:http";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? "8080");
const body = Buffer.alloc(1024, "x");

const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, host, () => process.stdout.write(`upstream listening on ${host}:${port}\n`));
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
server.on("error", (err) => {
  process.stderr.write(`upstream cannot listen on ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
