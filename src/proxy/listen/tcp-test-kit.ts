// Test helpers (not used by production code): TCP servers that show who answered (an echo, a
// server that speaks first, a TLS server), a CONNECT client, and a self-signed certificate.
import net from "node:net";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TcpServer { port: number; connections: number; close(): Promise<void> }

function serve(server: net.Server, host: string, port: number, onClose: () => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const state: TcpServer = {
    port: 0,
    connections: 0,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      onClose();
      server.close(() => r());
    }),
  };
  server.on("connection", (s: net.Socket) => {
    state.connections++;
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      state.port = (server.address() as net.AddressInfo).port;
      resolve(state);
    });
  });
}

/** Echoes every chunk back prefixed with "<id>:"; ends when the client ends. */
export function startTcpEcho(host: string, port: number, id: string): Promise<TcpServer> {
  const server = net.createServer((s) => {
    s.on("data", (c: Buffer) => s.write(`${id}:${c.toString()}`));
    s.on("end", () => s.end());
  });
  return serve(server, host, port, () => {});
}

/** A server-first protocol (as MySQL, SMTP): writes "<banner>\n" at once, then echoes lines. */
export function startBannerServer(host: string, port: number, banner: string): Promise<TcpServer> {
  const server = net.createServer((s) => {
    s.write(`${banner}\n`);
    s.on("data", (c: Buffer) => s.write(`got ${c.toString()}`));
    s.on("end", () => s.end());
  });
  return serve(server, host, port, () => {});
}

/** A self-signed certificate for `names` (openssl, as on the machines tests run on). */
export function selfSignedCert(names: readonly string[]): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-cert-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", `/CN=${names[0]}`, "-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    return { certPem: readFileSync(join(dir, "cert.pem"), "utf8"), keyPem: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TLS server that answers each line with "<id>:<line>" and tells which SNI it saw. */
export function startTlsServer(host: string, port: number, id: string, cert: { certPem: string; keyPem: string }): Promise<TcpServer> {
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    s.write(`${id} sni=${(s as tls.TLSSocket & { servername?: string }).servername ?? "-"}\n`);
    s.on("data", (c: Buffer) => s.write(`${id}:${c.toString()}`));
    s.on("end", () => s.end());
  });
  server.on("tlsClientError", () => {});
  return serve(server, host, port, () => {});
}

/** CONNECT authority through an explicit proxy; resolves with the raw tunnel socket (paused) or the refusal. */
export function openTunnel(proxyHost: string, proxyPort: number, authority: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, proxyHost);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`CONNECT ${authority} timed out`)));
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      const head = got.subarray(0, end).toString();
      if (!/^HTTP\/1\.1 200/.test(head)) {
        socket.destroy();
        reject(new Error(`CONNECT refused: ${head}`));
        return;
      }
      if (end + 4 < got.length) socket.unshift(got.subarray(end + 4));
      socket.setTimeout(0);
      resolve(socket);
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** Reads from `s` until `text` has arrived (or it closes); resolves with everything read. */
export function readUntil(s: net.Socket | tls.TLSSocket, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(got)}`)), timeoutMs);
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.includes(text)) done();
    };
    const onClose = (): void => done(new Error(`closed before ${JSON.stringify(text)}; got ${JSON.stringify(got)}`));
    function done(err?: Error): void {
      clearTimeout(timer);
      s.off("data", onData);
      s.off("close", onClose);
      s.pause();
      if (err) reject(err);
      else resolve(got);
    }
    s.on("data", onData);
    s.once("close", onClose);
    s.resume();
  });
}
