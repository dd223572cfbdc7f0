// gRPC through two sidecars: a grpc-js client dials its sidecar's outbound listener with
// HTTP/2 prior knowledge (the authority names the service), or tunnels through it with
// CONNECT (grpc_proxy), and the server's sidecar forwards to a grpc-js server over HTTP/2.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { startControl } from "../../src/control/main.ts";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { freePort, waitFor } from "../support/http.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-grpc-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const CLIENT_IP = "127.121.1.1";
const SERVER_IP = "127.121.1.2";
const APP_IP = "127.121.2.2";
const PORT = 7070;

interface Msg { text: string }
const toBuf = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const fromBuf = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const method = (name: string, responseStream: boolean) => ({
  path: `/mizzen.test.Echo/${name}`, requestStream: false, responseStream,
  requestSerialize: toBuf, requestDeserialize: fromBuf, responseSerialize: toBuf, responseDeserialize: fromBuf,
});
const ECHO = { unary: method("Unary", false), stream: method("Stream", true) } satisfies grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(ECHO, "Echo");
type Echo = grpc.Client & {
  unary(m: Msg, cb: (err: grpc.ServiceError | null, r?: Msg) => void): void;
  stream(m: Msg): grpc.ClientReadableStream<Msg>;
};

const MESH = `apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: echo }
  ports: [{ name: grpc, port: ${PORT} }]
---
apiVersion: v1
kind: Service
metadata: { name: nobody }
spec:
  selector: { app: nobody }
  ports: [{ name: grpc, port: ${PORT} }]
`;

function unary(c: Echo, text: string): Promise<Msg> {
  return new Promise((resolve, reject) => c.unary({ text }, (err, r) => (err ? reject(err) : resolve(r!))));
}

function streamAll(c: Echo, text: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const s = c.stream({ text });
    s.on("data", (m: Msg) => got.push(m.text));
    s.on("error", reject);
    s.on("end", () => resolve(got));
  });
}

function client(authority: string): Echo {
  const c = new EchoClient(`${CLIENT_IP}:15001`, grpc.credentials.createInsecure(), { "grpc.default_authority": authority }) as unknown as Echo;
  cleanups.push(() => c.close());
  return c;
}

let adminPort = 0;

before(async () => {
  const server = new grpc.Server();
  server.addService(ECHO, {
    unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      if (call.request.text === "missing") cb({ code: grpc.status.NOT_FOUND, details: "no greeting for missing" });
      else cb(null, { text: `hello ${call.request.text}` });
    },
    stream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      for (let i = 1; i <= 3; i++) call.write({ text: `${call.request.text} ${i}` });
      call.end();
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`${APP_IP}:${PORT}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  cleanups.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));

  writeFileSync(join(dir, "mesh.yaml"), MESH);
  const xdsPort = await freePort();
  const cp = await startControl({ configDir: dir, xds: { host: "127.0.0.1", port: xdsPort }, debug: { host: "127.0.0.1", port: 0 }, accessLog: false, debounceMs: 10 });
  cleanups.push(() => cp.close());
  const serverNode = nodeFromFlags({ xds: "", ip: SERVER_IP, name: "echo", namespace: "default", labels: "app=echo", serviceAccount: "echo", ports: `grpc:${PORT}`, appAddress: APP_IP, adminPort: "15000", autoRegister: true });
  const serverProxy = await startProxy({ xds: `127.0.0.1:${xdsPort}`, node: serverNode, adminAddress: { host: SERVER_IP, port: 0 }, metricsAddress: false, healthProbe: { startupIntervalMs: 50, intervalMs: 200 } });
  cleanups.push(() => serverProxy.close());
  const clientNode = nodeFromFlags({ xds: "", ip: CLIENT_IP, name: "client", namespace: "default", labels: "app=client", serviceAccount: "client", ports: "", appAddress: "127.121.2.1", adminPort: "15000", autoRegister: false });
  const clientProxy = await startProxy({ xds: `127.0.0.1:${xdsPort}`, node: clientNode, adminAddress: { host: CLIENT_IP, port: 0 }, metricsAddress: false });
  cleanups.push(() => clientProxy.close());
  adminPort = clientProxy.adminPort;
  const c = client(`echo:${PORT}`);
  await waitFor("a first call through both sidecars", async () => (await unary(c, "warmup").catch(() => undefined))?.text === "hello warmup");
});

test("unary and server-streaming calls pass both sidecars over HTTP/2", async () => {
  const c = client(`echo.default.svc.cluster.local:${PORT}`);
  assert.deepEqual(await unary(c, "mizzen"), { text: "hello mizzen" });
  assert.deepEqual(await streamAll(c, "tick"), ["tick 1", "tick 2", "tick 3"]);
  // Streams share one session per hop: many calls at once all finish.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => unary(c, `n${i}`)));
  assert.deepEqual(many.map((m) => m.text), Array.from({ length: 20 }, (_, i) => `hello n${i}`));
});

test("an error status from the server reaches the client with its message", async () => {
  const err = await unary(client(`echo:${PORT}`), "missing").then(() => undefined, (e: grpc.ServiceError) => e);
  assert.ok(err, "the call must fail");
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.equal(err.details, "no greeting for missing");
});

test("a service without endpoints answers UNAVAILABLE, flagged UH", async () => {
  const err = await unary(client(`nobody:${PORT}`), "x").then(() => undefined, (e: grpc.ServiceError) => e);
  assert.ok(err, "the call must fail");
  assert.equal(err.code, grpc.status.UNAVAILABLE);
  assert.equal(err.details, "no healthy upstream");
  const stats = await (await fetch(`http://${CLIENT_IP}:${adminPort}/stats`)).text();
  assert.match(stats, /response_flag\.UH: [1-9]/);
});

test("a client behind grpc_proxy tunnels with CONNECT and is routed the same way", async () => {
  process.env.grpc_proxy = `http://${CLIENT_IP}:15001`;
  let c: Echo;
  try {
    c = new EchoClient(`echo:${PORT}`, grpc.credentials.createInsecure()) as unknown as Echo;
    cleanups.push(() => c.close());
    assert.deepEqual(await unary(c, "tunnel"), { text: "hello tunnel" });
    assert.deepEqual(await streamAll(c, "t"), ["t 1", "t 2", "t 3"]);
  } finally {
    delete process.env.grpc_proxy;
  }
});
