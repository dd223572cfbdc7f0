// An in-process secure mesh for end-to-end tests: the control plane with its CA serving xDS
// over TLS only, sidecars in the secure mode (bootstrap token, workload certificate, mTLS),
// plain HTTP applications behind them, and mesh certificates for test clients (curl, openssl,
// node:https) issued by the same CA through its real gRPC API.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { credentials as grpcCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { startControl, type ControlPlane } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { requestCertificate, workloadIdentity } from "../../src/ca/index.ts";
import { generateWorkloadKey } from "../../src/proxy/identity/workload-key.ts";
import { freePort } from "./http.ts";

/** The DNS name on the control plane's serving certificate. */
export const CONTROL_NAME = "mizzen-control";

export interface SecureControl {
  cp: ControlPlane;
  /** host:port of xDS and the CA over TLS. */
  address: string;
  rootPem: string;
  /** A bootstrap token for default/<sa> (or ns/sa). */
  token(serviceAccount: string, namespace?: string): string;
}

export async function startSecureControl(opts: { configDir: string; dataDir: string; certLifetimeSeconds?: number; jwksRefreshMs?: number; logger?: Logger }): Promise<SecureControl> {
  const port = await freePort();
  const cp = await startControl({
    configDir: opts.configDir,
    secureXds: { host: "127.0.0.1", port },
    security: { dataDir: opts.dataDir, ...(opts.certLifetimeSeconds ? { certLifetimeSeconds: opts.certLifetimeSeconds } : {}) },
    debug: { host: "127.0.0.1", port: 0 },
    accessLog: false,
    debounceMs: 10,
    ...(opts.jwksRefreshMs ? { jwksRefreshMs: opts.jwksRefreshMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const security = cp.security!;
  return {
    cp,
    address: `127.0.0.1:${cp.secureXdsPort}`,
    rootPem: security.rootPem,
    token: (sa, ns = "default") => security.tokens.issue(workloadIdentity("cluster.local", ns, sa)),
  };
}

export interface SidecarSpec {
  /** Pod IP: the sidecar listens there (inbound ports, 15001, admin, metrics). */
  ip: string;
  name: string;
  /** "http:8080,..." (the application's ports); "" for a client without inbound ports. */
  ports: string;
  appAddress: string;
  certLifetimeSeconds?: number;
  logger?: Logger;
}

export interface Sidecar {
  ip: string;
  adminPort: number;
  close(): Promise<void>;
  /** One counter of /stats (0 when absent). */
  stat(name: string): Promise<number>;
}

/** A sidecar in the secure mode whose workload auto-registers (service account = name). */
export async function startSecureSidecar(control: SecureControl, s: SidecarSpec): Promise<Sidecar> {
  const node = nodeFromFlags({ xds: control.address, ip: s.ip, name: s.name, namespace: "default", labels: `app=${s.name}`, serviceAccount: s.name, ports: s.ports, appAddress: s.appAddress, adminPort: "0", autoRegister: true });
  const proxy = await startProxy({
    xds: control.address,
    node,
    adminAddress: { host: s.ip, port: 0 },
    security: { rootPem: control.rootPem, token: control.token(s.name), serverName: CONTROL_NAME, ...(s.certLifetimeSeconds ? { certLifetimeSeconds: s.certLifetimeSeconds } : {}) },
    ...(s.logger ? { logger: s.logger } : {}),
  });
  return {
    ip: s.ip,
    adminPort: proxy.adminPort,
    close: () => proxy.close(),
    async stat(name) {
      const text = await (await fetch(`http://${s.ip}:${proxy.adminPort}/stats`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name}: `));
      return line ? Number(line.slice(name.length + 2)) : 0;
    },
  };
}

export interface MeshCertificate {
  certPem: string;
  /** Leaf then the CA's chain (the root last). */
  chainPem: string[];
  keyPem: string;
}

/** A certificate for default/<sa> from the control plane's CA, asked for over its TLS port. */
export async function issueMeshCertificate(control: SecureControl, serviceAccount: string, lifetimeSeconds: number): Promise<MeshCertificate> {
  const key = await generateWorkloadKey("ecdsa-p256");
  const chain = await requestCertificate({
    address: control.address,
    csrPem: key.csrPem,
    token: control.token(serviceAccount),
    validitySeconds: lifetimeSeconds,
    credentials: grpcCredentials.createSsl(Buffer.from(control.rootPem)),
    channelOptions: { "grpc.ssl_target_name_override": CONTROL_NAME, "grpc.default_authority": CONTROL_NAME },
  });
  return { certPem: chain[0]!, chainPem: chain, keyPem: key.keyPem };
}

/** A small HTTP application on host:port; resolves once it listens. */
export async function startApp(host: string, port: number, handler: http.RequestListener): Promise<{ server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

export function listeningPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

/** Certificate serials compare as lower-case hex without leading zeros (Node and @peculiar/x509 differ). */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, "");
}
