// The reference path for the data-plane comparison: two HAProxy instances in series with
// mutual TLS between them, like two sidecars.
//   client -> HAProxy 1 (plaintext HTTP/1.1 in, originates TLS with a client certificate)
//          -> HAProxy 2 (terminates TLS, requires and verifies the client certificate)
//          -> upstream
// One thread each (nbthread 1), so "per core" compares with one single-threaded Node sidecar;
// keep-alive on every hop (http-reuse always on both backends). Certificates are ECDSA P-256
// like Mizzen's workload certificates, made with openssl under one throwaway CA.
import { execFileSync } from "node:child_process";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { answers, listening, startChild, waitFor, type BenchChild } from "./children.ts";

export interface HaproxyAddresses {
  /** HAProxy 1's plaintext listener (the client's "sidecar"). */
  front: { host: string; port: number };
  /** HAProxy 2's TLS listener. */
  back: { host: string; port: number };
  upstream: { host: string; port: number };
  /** The name on HAProxy 2's certificate, sent as SNI and verified by HAProxy 1. */
  serverName: string;
}

export interface HaproxyPair {
  front: BenchChild;
  back: BenchChild;
  close(): Promise<void>;
}

export function haproxyVersion(): string | undefined {
  try {
    return execFileSync("haproxy", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0]!.trim();
  } catch {
    return undefined;
  }
}

const GLOBAL = `global
  nbthread 1
  maxconn 4000
  tune.ssl.default-dh-param 2048

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
`;

/** HAProxy 1: plaintext in, TLS with a client certificate out, verifying HAProxy 2's name and chain. */
export function frontConfig(a: HaproxyAddresses, certDir: string): string {
  return `${GLOBAL}
frontend outbound
  bind ${a.front.host}:${a.front.port}
  default_backend peer

backend peer
  http-reuse always
  server peer ${a.back.host}:${a.back.port} ssl crt ${join(certDir, "client.pem")} ca-file ${join(certDir, "ca.pem")} verify required verifyhost ${a.serverName} sni str(${a.serverName}) alpn http/1.1
`;
}

/** HAProxy 2: TLS in, a client certificate from the same CA required, plaintext to the upstream. */
export function backConfig(a: HaproxyAddresses, certDir: string): string {
  return `${GLOBAL}
frontend inbound
  bind ${a.back.host}:${a.back.port} ssl crt ${join(certDir, "server.pem")} ca-file ${join(certDir, "ca.pem")} verify required alpn http/1.1
  default_backend app

backend app
  http-reuse always
  server app ${a.upstream.host}:${a.upstream.port}
`;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate for serverName and a client certificate, each as cert+key PEM. */
export function makeCertificates(dir: string, serverName: string): void {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench-ca"], dir);
  for (const [who, cn, ext] of [["server", serverName, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`], ["client", "bench-client", "extendedKeyUsage=clientAuth\n"]] as const) {
    writeFileSync(join(dir, `${who}.ext`), ext);
    openssl(["req", "-new", ...ec, "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${cn}`], dir);
    openssl(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${who}.ext`, "-out", `${who}.crt`], dir);
    writeFileSync(join(dir, `${who}.pem`), readFileSync(join(dir, `${who}.crt`), "utf8") + readFileSync(join(dir, `${who}.key`), "utf8"));
  }
}

export async function startHaproxyPair(a: HaproxyAddresses, dir: string): Promise<HaproxyPair> {
  for (const { host, port } of [a.front, a.back]) {
    if (await listening(host, port)) throw new Error(`${host}:${port} is already in use (another benchmark running?)`);
  }
  makeCertificates(dir, a.serverName);
  writeFileSync(join(dir, "front.cfg"), frontConfig(a, dir));
  writeFileSync(join(dir, "back.cfg"), backConfig(a, dir));
  // -db: stay in the foreground, one process, so /proc/<pid> is the proxy itself.
  const back = startChild("haproxy 2 (server side)", "haproxy", ["-db", "-f", join(dir, "back.cfg")]);
  const front = startChild("haproxy 1 (client side)", "haproxy", ["-db", "-f", join(dir, "front.cfg")]);
  const pair: HaproxyPair = {
    front,
    back,
    async close() {
      await Promise.all([front.stop(), back.stop()]);
    },
  };
  try {
    await waitFor("HAProxy 2 to listen", () => listening(a.back.host, a.back.port), 15_000, back);
    await waitFor("requests through both HAProxy instances", () => answers(`http://${a.front.host}:${a.front.port}/`), 15_000, front);
  } catch (err) {
    await pair.close();
    throw err;
  }
  return pair;
}
