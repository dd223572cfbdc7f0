// Plain TCP, TLS passthrough and protocol detection through real sidecars, in process, in the
// secure mode with a mesh-wide STRICT PeerAuthentication (so every sidecar-to-sidecar byte
// here went over mutual TLS: plaintext would be refused). A client reaches TCP services the
// way HTTP_PROXY clients do, with CONNECT host:port on its sidecar's podIP:15001:
//   - a TCP echo service whose VirtualService splits connections between two versions;
//   - two external TLS servers told apart only by the ClientHello's SNI (tls routes);
//   - an unnamed port whose server speaks first: the sidecars wait the detection timeout,
//     then carry it as TCP;
//   - curl --proxytunnel does the same CONNECT.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { startProxy } from "../../src/proxy/main.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { waitFor } from "../support/http.ts";
import { CONTROL_NAME, startSecureControl, type SecureControl } from "../support/secure-mesh.ts";
import { openTunnel, readUntil, selfSignedCert, startBannerServer, startTcpEcho, startTlsServer } from "../../src/proxy/listen/tcp-test-kit.ts";

const ECHO_V1 = { pod: "127.135.1.1", app: "127.135.2.1" };
const ECHO_V2 = { pod: "127.135.1.2", app: "127.135.2.2" };
const BANNER = { pod: "127.135.1.3", app: "127.135.2.3" };
const CLIENT = { pod: "127.135.1.4", app: "127.135.2.4" };
const TLS_A = "127.135.3.1";
const TLS_B = "127.135.3.2";

const dir = mkdtempSync(join(tmpdir(), "mizzen-tcp-tls-"));
const cleanups: (() => Promise<unknown> | void)[] = [];
let control: SecureControl;
const admin = new Map<string, number>();

writeFileSync(join(dir, "mesh.yaml"), `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
---
apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  selector: { app: echo }
  ports: [{ name: tcp-echo, port: 9000 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo }
spec:
  host: echo
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo }
spec:
  hosts: [echo]
  tcp:
    - match: [{ port: 9000 }]
      route:
        - { destination: { host: echo, subset: v1 }, weight: 50 }
        - { destination: { host: echo, subset: v2 }, weight: 50 }
---
apiVersion: v1
kind: Service
metadata: { name: banner }
spec:
  selector: { app: banner }
  ports: [{ port: 7000 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: site-a }
spec:
  hosts: [a.example.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 443, name: tls, protocol: TLS, targetPort: 8443 }]
  endpoints: [{ address: ${TLS_A} }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: site-b }
spec:
  hosts: [b.example.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 443, name: tls, protocol: TLS, targetPort: 8443 }]
  endpoints: [{ address: ${TLS_B} }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: by-sni }
spec:
  hosts: [a.example.test, b.example.test]
  tls:
    - match: [{ port: 443, sniHosts: [a.example.test] }]
      route: [{ destination: { host: a.example.test } }]
    - match: [{ port: 443, sniHosts: [b.example.test] }]
      route: [{ destination: { host: b.example.test } }]
`);

async function sidecar(name: string, pod: { pod: string; app: string }, labels: string, ports: string): Promise<void> {
  const node = nodeFromFlags({ xds: control.address, ip: pod.pod, name, namespace: "default", labels, serviceAccount: name, ports, appAddress: pod.app, adminPort: "0", autoRegister: true });
  const proxy = await startProxy({ xds: control.address, node, adminAddress: { host: pod.pod, port: 0 }, security: { rootPem: control.rootPem, token: control.token(name), serverName: CONTROL_NAME } });
  admin.set(name, proxy.adminPort);
  cleanups.push(() => proxy.close());
}

async function stat(name: string, pod: string, key: string): Promise<number> {
  const text = await (await fetch(`http://${pod}:${admin.get(name)}/stats`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${key}: `));
  return line ? Number(line.slice(key.length + 2)) : 0;
}

before(async () => {
  control = await startSecureControl({ configDir: dir, dataDir: join(dir, "data") });
  cleanups.push(() => control.cp.close());
  const cert = selfSignedCert(["a.example.test", "b.example.test"]);
  const servers = await Promise.all([
    startTcpEcho(ECHO_V1.app, 9000, "v1"), startTcpEcho(ECHO_V2.app, 9000, "v2"), startBannerServer(BANNER.app, 7000, "220 banner.example ESMTP"),
    startTlsServer(TLS_A, 8443, "A", cert), startTlsServer(TLS_B, 8443, "B", cert),
  ]);
  for (const s of servers) cleanups.push(() => s.close());
  await sidecar("echo-v1", ECHO_V1, "app=echo,version=v1", "tcp-echo:9000");
  await sidecar("echo-v2", ECHO_V2, "app=echo,version=v2", "tcp-echo:9000");
  await sidecar("banner", BANNER, "app=banner", "7000");
  await sidecar("client", CLIENT, "app=client", "");
  await waitFor("every endpoint healthy at the client", async () => {
    const text = await (await fetch(`http://${CLIENT.pod}:${admin.get("client")}/clusters`)).text();
    return [ECHO_V1, ECHO_V2, BANNER].every((p) => text.includes(`${p.pod}:${p === BANNER ? 7000 : 9000}::health_flags::healthy`)) && text.includes("outbound|9000|v2|");
  }, 30_000);
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

test("TCP through CONNECT: weighted tcp routes split connections between the versions, over mTLS", { timeout: 60_000 }, async () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const s = await openTunnel(CLIENT.pod, 15001, "echo:9000");
    s.write(`msg ${i}`);
    const got = await readUntil(s, `msg ${i}`);
    const who = got.split(":")[0]!;
    seen.set(who, (seen.get(who) ?? 0) + 1);
    s.end();
    await new Promise((r) => s.once("close", r).resume());
  }
  assert.deepEqual([...seen.keys()].sort(), ["v1", "v2"], `both versions answer: ${JSON.stringify([...seen])}`);
  assert.equal(await stat("client", CLIENT.pod, "tcp.outbound|9000||echo.default.svc.cluster.local.downstream_cx_total"), 30);
  // The server sidecars accepted these as mTLS connections and proxied them to their app as TCP.
  let inbound = 0;
  for (const [name, p] of [["echo-v1", ECHO_V1], ["echo-v2", ECHO_V2]] as const) {
    inbound += await stat(name, p.pod, "tcp.inbound|9000||.downstream_cx_total");
    assert.ok(await stat(name, p.pod, "downstream_cx_ssl_total") > 0, `${name} terminated mTLS`);
  }
  assert.ok(inbound >= 30, `inbound TCP connections: ${inbound}`);
});

test("TLS passthrough: two TLS servers told apart by SNI alone, never decrypted on the way", async () => {
  for (const [host, want] of [["a.example.test", "A"], ["b.example.test", "B"]] as const) {
    const tunnel = await openTunnel(CLIENT.pod, 15001, `${host}:443`);
    const secure = tls.connect({ socket: tunnel, servername: host, rejectUnauthorized: false });
    assert.equal(await readUntil(secure, "\n"), `${want} sni=${host}\n`);
    secure.write("ping");
    assert.equal(await readUntil(secure, "ping"), `${want}:ping`);
    secure.destroy();
  }
  assert.equal(await stat("client", CLIENT.pod, "tcp.outbound|443||a.example.test.downstream_cx_total"), 1);
});

test("a server-first protocol on an unnamed port works once both sidecars' detection timeouts pass", async () => {
  const s = await openTunnel(CLIENT.pod, 15001, "banner:7000");
  assert.equal(await readUntil(s, "\n"), "220 banner.example ESMTP\n");
  s.write("QUIT\r\n");
  assert.equal(await readUntil(s, "got QUIT"), "got QUIT\r\n");
  s.destroy();
  assert.ok(await stat("banner", BANNER.pod, "tcp.inbound|7000||.downstream_cx_total") >= 1);
});

test("curl --proxytunnel reaches the TCP service the same way", async () => {
  // curl's telnet:// keeps reading until --max-time (exit 28); what it printed is what counts.
  const out = await new Promise<string>((resolve) => {
    const child = spawn("curl", ["-sS", "--max-time", "3", "-p", "-x", `http://${CLIENT.pod}:15001`, "telnet://echo.default.svc.cluster.local:9000"]);
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c));
    child.stderr.resume();
    child.once("close", () => resolve(text));
    child.stdin.end("from curl\n");
  });
  assert.match(out, /^v[12]:from curl\n/, `curl: ${out}`);
});

/** One connection to echo through the client's sidecar: the echoed text, or "closed" when the connection ends first. */
async function echoOnce(text: string): Promise<string> {
  const s = await openTunnel(CLIENT.pod, 15001, "echo:9000");
  try {
    s.write(text);
    return await readUntil(s, text);
  } catch {
    return "closed";
  } finally {
    s.destroy();
  }
}

async function echoDenials(): Promise<number> {
  return (await stat("echo-v1", ECHO_V1.pod, "tcp.rbac.denied")) + (await stat("echo-v2", ECHO_V2.pod, "tcp.rbac.denied"));
}

test("AuthorizationPolicy on a TCP port: network RBAC by the mTLS identity, per connection", { timeout: 60_000 }, async () => {
  const policy = (principal: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: echo-callers }
spec:
  selector: { matchLabels: { app: echo } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["${principal}"] } }]
      to: [{ operation: { ports: ["9000"] } }]
`;
  const file = join(dir, "authz.yaml");
  cleanups.push(() => rmSync(file, { force: true }));
  // Only another identity may connect: the client's connections are closed and counted.
  writeFileSync(file, policy("cluster.local/ns/default/sa/someone-else"));
  await waitFor("the client refused by echo", async () => (await echoOnce("knock")) === "closed", 20_000);
  const before = await echoDenials();
  assert.equal(await echoOnce("again"), "closed");
  assert.ok((await echoDenials()) > before, "the server sidecar counted tcp.rbac.denied");
  // And kept the denial where `mizzen describe` reads it, with the policy that decided.
  const failures = await Promise.all([["echo-v1", ECHO_V1.pod], ["echo-v2", ECHO_V2.pod]].map(async ([name, pod]) => ((await (await fetch(`http://${pod}:${admin.get(name!)}/recent_failures`)).json()) as { failures: { method: string; direction: string; details: string }[] }).failures));
  const denial = failures.flat().find((f) => f.method === "TCP");
  assert.ok(denial, "a TCP failure in a server sidecar's /recent_failures");
  assert.equal(denial.direction, "inbound");
  assert.match(denial.details, /^rbac_access_denied_matched_policy\[/);
  // The client's own SPIFFE identity is allowed: bytes flow again, over mTLS.
  writeFileSync(file, policy("cluster.local/ns/default/sa/client"));
  await waitFor("the client allowed again", async () => /^v[12]:hello$/.test(await echoOnce("hello")), 20_000);
  assert.ok((await stat("echo-v1", ECHO_V1.pod, "tcp.rbac.allowed")) + (await stat("echo-v2", ECHO_V2.pod, "tcp.rbac.allowed")) > 0);
  rmSync(file, { force: true });
});
