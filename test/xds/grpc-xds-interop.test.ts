// Proof that the control plane speaks real xDS: the gRPC team's own xDS client
// (@grpc/grpc-js-xds, not ours) is pointed at Mizzen's control plane, and a gRPC client
// dialing xds:///echo.default.svc.cluster.local:7070 is routed by an Istio VirtualService
// (a weighted split between DestinationRule subsets, and a header match).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { startControl } from "../../src/control/main.ts";

const json = {
  serialize: (o: unknown) => Buffer.from(JSON.stringify(o)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const echoService: grpc.ServiceDefinition = {
  echo: {
    path: "/mizzen.test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

async function startBackend(version: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echoService, {
    echo: (_call: unknown, cb: (e: null, r: unknown) => void) => cb(null, { version }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, server };
}

const dir = mkdtempSync(join(tmpdir(), "mizzen-grpc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("grpc-js-xds client is routed by a VirtualService served over Mizzen's ADS", async () => {
  const backends = await Promise.all(["v1", "v2", "v3"].map(startBackend));
  const entries = backends
    .map((b, i) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-v${i + 1}, namespace: default }
spec:
  address: 127.0.0.1
  labels: { app: echo, version: v${i + 1} }
  ports: { grpc: ${b.port} }
`)
    .join("");
  writeFileSync(
    join(dir, "echo.yaml"),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 7070, name: grpc, protocol: GRPC }]
  workloadSelector: { labels: { app: echo } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo.default.svc.cluster.local
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
  - { name: v3, labels: { version: v3 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  http:
  - match: [{ headers: { x-user: { exact: jason } } }]
    route: [{ destination: { host: echo.default.svc.cluster.local, subset: v3 } }]
  - route:
    - { destination: { host: echo.default.svc.cluster.local, subset: v1 }, weight: 75 }
    - { destination: { host: echo.default.svc.cluster.local, subset: v2 }, weight: 25 }
${entries}`,
  );

  const cp = await startControl({
    configDir: dir,
    xds: { host: "127.0.0.1", port: 0 },
    debug: { host: "127.0.0.1", port: 0 },
    accessLog: false,
    debounceMs: 10,
  });
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${cp.xdsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
    node: { id: "grpc~127.0.0.1~client.default~default.svc.cluster.local", locality: {}, metadata: { GENERATOR: "grpc", NAMESPACE: "default" } },
  });
  grpcXds.register();
  const Client = grpc.makeGenericClientConstructor(echoService, "Echo");
  const client = new Client("xds:///echo.default.svc.cluster.local:7070", grpc.credentials.createInsecure());
  const call = (md?: grpc.Metadata) =>
    new Promise<string>((resolve, reject) => {
      const deadline = new Date(Date.now() + 10_000);
      (client as unknown as Record<string, Function>).echo({}, md ?? new grpc.Metadata(), { deadline }, (e: Error | null, r: { version: string }) =>
        e ? reject(e) : resolve(r.version),
      );
    });
  try {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const v = await call();
      counts[v] = (counts[v] ?? 0) + 1;
    }
    assert.equal(counts.v3 ?? 0, 0, `no request without the header may reach v3: ${JSON.stringify(counts)}`);
    assert.ok((counts.v1 ?? 0) > 110 && (counts.v2 ?? 0) > 20, `expected about 75/25 between v1 and v2, got ${JSON.stringify(counts)}`);

    const md = new grpc.Metadata();
    md.set("x-user", "jason");
    for (let i = 0; i < 20; i++) assert.equal(await call(md), "v3");
  } finally {
    client.close();
    await cp.close();
    for (const b of backends) b.server.forceShutdown();
  }
});
