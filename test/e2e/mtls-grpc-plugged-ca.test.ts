// Two things an operator meets on day one of zero trust:
//   - the CA is their own: Istio's cacerts layout (an openssl-made root and intermediate);
//     sidecars get certificates chained to that root, and the chain verifies with openssl;
//   - gRPC keeps working under STRICT mTLS: a grpc-js client through two secure sidecars,
//     HTTP/2 over TLS (ALPN h2) between them, unary and server streaming.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { startControl } from "../../src/control/main.ts";
import { makePluggedCa } from "../../src/ca/test-kit.ts";
import { freePort, waitFor } from "../support/http.ts";
import { CONTROL_NAME, startSecureSidecar, type SecureControl, type Sidecar } from "../support/secure-mesh.ts";
import { workloadIdentity } from "../../src/ca/identity.ts";

const execFileAsync = promisify(execFile);
const CLIENT_IP = "127.129.1.1";
const SERVER_IP = "127.129.1.2";
const SERVER_APP = "127.129.2.2";
const GRPC_PORT = 50051;

const dir = mkdtempSync(join(tmpdir(), "mizzen-mtls-grpc-"));
const configDir = join(dir, "config");
const cacerts = join(dir, "cacerts");
mkdirSync(configDir);
mkdirSync(cacerts);
const cleanups: (() => Promise<unknown> | void)[] = [];
let client: Sidecar;
let server: Sidecar;

// A hand-written service definition: no .proto file needed for a raw-bytes echo.
const identity = (b: Buffer) => b;
const echoService: grpc.ServiceDefinition = {
  Echo: { path: "/test.Echo/Echo", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  Count: { path: "/test.Echo/Count", requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

before(async () => {
  makePluggedCa(cacerts);
  writeFileSync(join(configDir, "mesh.yaml"), `apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: server }
  ports: [{ name: grpc, port: ${GRPC_PORT} }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`);
  const port = await freePort();
  const cp = await startControl({
    configDir,
    secureXds: { host: "127.0.0.1", port },
    security: { dataDir: join(dir, "data"), pluggedCaDir: cacerts },
    debug: { host: "127.0.0.1", port: 0 },
    accessLog: false,
    debounceMs: 10,
  });
  cleanups.push(() => cp.close());
  const control: SecureControl = {
    cp,
    address: `127.0.0.1:${cp.secureXdsPort}`,
    rootPem: cp.security!.rootPem,
    token: (sa: string, ns = "default") => cp.security!.tokens.issue(workloadIdentity("cluster.local", ns, sa)),
  } as SecureControl;

  const app = new grpc.Server();
  app.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from("echo:"), call.request])),
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  await new Promise<void>((resolve, reject) => app.bindAsync(`${SERVER_APP}:${GRPC_PORT}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  cleanups.push(() => new Promise<void>((r) => app.tryShutdown(() => r())));
  server = await startSecureSidecar(control, { ip: SERVER_IP, name: "server", ports: `grpc:${GRPC_PORT}`, appAddress: SERVER_APP });
  cleanups.push(() => server.close());
  client = await startSecureSidecar(control, { ip: CLIENT_IP, name: "client", ports: "", appAddress: "127.129.2.1" });
  cleanups.push(() => client.close());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

test("sidecar certificates chain to the operator's root (cacerts), checked by openssl", async () => {
  const page = await (await fetch(`http://${SERVER_IP}:${server.adminPort}/certs`)).json() as { certificates: { ca_cert: { serial_number: string }[] }[] };
  const rootSerial = execFileSync("openssl", ["x509", "-in", join(cacerts, "root-cert.pem"), "-noout", "-serial"], { encoding: "utf8" }).trim().split("=")[1]!.toLowerCase();
  assert.equal(page.certificates[0]!.ca_cert[0]!.serial_number.replace(/^0+/, ""), rootSerial.replace(/^0+/, ""), "the trust bundle is the operator's root");
  // The served chain (leaf + intermediate) verifies against the operator's root with openssl.
  // Asynchronous: the sidecar runs in this process and must answer the handshake meanwhile.
  const { stdout: shown } = await execFileAsync("sh", ["-c", `echo | openssl s_client -connect ${SERVER_IP}:${GRPC_PORT} -CAfile ${join(cacerts, "root-cert.pem")} -showcerts 2>&1 || true`], { encoding: "utf8", timeout: 10_000 });
  assert.match(shown, /Mizzen intermediate CA/);
  assert.match(shown, /Verify return code: 0 \(ok\)/);
});

test("gRPC unary and server streaming through two sidecars under STRICT mTLS (HTTP/2 over TLS between them)", async () => {
  const Client = grpc.makeGenericClientConstructor(echoService, "Echo");
  // The client dials its sidecar's outbound port with h2c; the authority names the service.
  const c = new Client(`${CLIENT_IP}:15001`, grpc.credentials.createInsecure(), { "grpc.default_authority": `echo.default.svc.cluster.local:${GRPC_PORT}` }) as grpc.Client & Record<string, Function>;
  cleanups.push(() => c.close());
  const reply = await waitFor("a unary reply", () => new Promise<Buffer | undefined>((resolve) => {
    c.Echo(Buffer.from("hi"), new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err: grpc.ServiceError | null, res: Buffer) => resolve(err ? undefined : res));
  }), 20_000);
  assert.equal(reply.toString(), "echo:hi");
  const parts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = c.Count(Buffer.from("go"), new grpc.Metadata(), { deadline: Date.now() + 3000 }) as grpc.ClientReadableStream<Buffer>;
    call.on("data", (b: Buffer) => parts.push(b.toString()));
    call.on("error", reject);
    call.on("end", () => resolve());
  });
  assert.deepEqual(parts, ["1", "2", "3"]);
  assert.ok(await server.stat("downstream_cx_ssl_total") >= 1, "the server's sidecar terminated mTLS");
});

// CONTROL_NAME is imported so a change of the control plane's certificate name breaks here too.
void CONTROL_NAME;
