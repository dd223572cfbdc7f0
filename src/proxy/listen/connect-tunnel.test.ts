// CONNECT on the explicit-proxy listener, over real loopback sockets: HTTP inside the tunnel
// is routed like any request, TLS is passed through only with a PassthroughCluster.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { cla, edsCluster, feed, hcmListener, routeConfig, startPlane, startUpstream, toCluster, vhost, type Resources, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";
import { parseConnectAuthority } from "./connect-tunnel.ts";

let details: Upstream, reviews: Upstream;
let plane: DataPlane & { port(l: string): number };
let port: number;
let resources: Resources;
const log: string[] = [];

before(async () => {
  [details, reviews] = await Promise.all([startUpstream("details"), startUpstream("reviews")]);
  resources = {
    clusters: [edsCluster("outbound|9080||details"), edsCluster("outbound|9080||reviews")],
    endpoints: [cla("outbound|9080||details", [{ port: details.port }]), cla("outbound|9080||reviews", [{ port: reviews.port }])],
    listeners: [hcmListener("http_proxy", { rds: "http_proxy", accessLog: true })],
    routes: [routeConfig("http_proxy", [
      vhost("details", ["details:9080"], [toCluster("outbound|9080||details")]),
      vhost("reviews", ["reviews:9080"], [toCluster("outbound|9080||reviews")]),
    ])],
  };
  plane = await startPlane(resources, { accessLog: log });
  port = plane.port("http_proxy");
});

after(async () => {
  await plane.close();
  await Promise.all([details.close(), reviews.close()]);
});

/** Opens a tunnel; resolves with the socket and the proxy's reply head (status line and headers). */
function openTunnel(authority: string): Promise<{ socket: net.Socket; reply: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(10_000, () => socket.destroy(new Error("tunnel test timed out")));
    let got = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      if (end + 4 < got.length) socket.unshift(got.subarray(end + 4));
      resolve({ socket, reply: got.subarray(0, end).toString() });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.once("close", () => reject(new Error(`closed before a reply: ${got.toString()}`)));
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** One keep-alive HTTP/1.1 request written by hand over an open tunnel socket. */
function getInTunnel(socket: net.Socket, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  socket.removeAllListeners("close");
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = got.subarray(0, end).toString();
      const rest = got.subarray(end + 4);
      let body: string;
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        const text = rest.toString("latin1");
        if (!text.endsWith("0\r\n\r\n")) return;
        body = "";
        for (let i = 0; ;) {
          const eol = text.indexOf("\r\n", i);
          const size = parseInt(text.slice(i, eol), 16);
          if (!size) break;
          body += text.slice(eol + 2, eol + 2 + size);
          i = eol + 2 + size + 2;
        }
      } else {
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? "0");
        if (rest.length < length) return;
        body = rest.subarray(0, length).toString("latin1");
      }
      socket.off("data", onData);
      socket.pause();
      resolve({ status: Number(head.split(" ")[1]), body });
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`tunnel closed: ${got.toString()}`)));
    socket.resume();
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(`GET ${path} HTTP/1.1\r\n${lines}\r\n`);
  });
}

/** Resolves with everything the server sent once it closed the connection. */
function untilClosed(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.removeAllListeners("close");
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    socket.on("error", () => {});
    socket.once("close", () => resolve(text));
    socket.resume();
  });
}

test("authority parsing: host:port and [v6]:port only", () => {
  assert.deepEqual(parseConnectAuthority("details:9080"), { host: "details", port: 9080 });
  assert.deepEqual(parseConnectAuthority("[::1]:443"), { host: "::1", port: 443 });
  for (const bad of ["details", "details:", ":80", "details:0", "details:65536", "a b:80", "details:80/x", undefined]) {
    assert.equal(parseConnectAuthority(bad), undefined, String(bad));
  }
});

test("CONNECT then GET inside the tunnel is routed by the route table; Host falls back to the CONNECT authority", async () => {
  log.length = 0;
  const before = plane.stats.get("downstream_cx_connect_http");
  const t = await openTunnel("details:9080");
  assert.match(t.reply, /^HTTP\/1\.1 200 Connection established/);
  const r = await getInTunnel(t.socket, "/details/0", { host: "details:9080", "user-agent": "tunnel-test" });
  assert.equal(r.status, 200);
  const got = JSON.parse(r.body);
  assert.equal(got.id, "details");
  assert.equal(got.url, "/details/0");
  assert.equal(got.headers.host, "details:9080");
  // Same tunnel, keep-alive, no Host header: routed to the CONNECT authority.
  const noHost = await getInTunnel(t.socket, "/details/1", {});
  assert.equal(JSON.parse(noHost.body).id, "details");
  assert.equal(JSON.parse(noHost.body).headers.host, "details:9080");
  t.socket.destroy();
  // A tunnel to reviews goes to the reviews cluster.
  const t2 = await openTunnel("reviews:9080");
  const rv = await getInTunnel(t2.socket, "/reviews/0", { host: "reviews:9080" });
  assert.equal(JSON.parse(rv.body).id, "reviews");
  t2.socket.destroy();
  const line = log.find((l) => l.includes("/details/0"));
  assert.ok(line, "access log line for the tunnelled request");
  assert.match(line!, /"GET \/details\/0 HTTP\/1\.1" 200 - via_upstream .* "tunnel-test" .* "details:9080" .* outbound\|9080\|\|details /);
  assert.ok(log.some((l) => l.includes("/details/1")));
  assert.equal(plane.stats.get("downstream_cx_connect_http"), before + 2);
});

test("a GET pipelined in the same packet as the CONNECT is not lost", async () => {
  const socket = net.connect(port, "127.0.0.1");
  const text = untilClosed(socket);
  socket.write("CONNECT reviews:9080 HTTP/1.1\r\nHost: reviews:9080\r\n\r\nGET /pipelined HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n");
  const got = await text;
  assert.match(got, /^HTTP\/1\.1 200 Connection established\r\n\r\nHTTP\/1\.1 200 /);
  assert.match(got, /"id":"reviews","method":"GET","url":"\/pipelined"/);
});

test("Node's own fetch with NODE_USE_ENV_PROXY=1 reaches the upstream through the proxy", { timeout: 30_000 }, async () => {
  log.length = 0;
  const before = plane.stats.get("downstream_cx_connect_total");
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_USE_ENV_PROXY: "1", HTTP_PROXY: `http://127.0.0.1:${port}`, NO_PROXY: "" };
  for (const k of ["http_proxy", "https_proxy", "HTTPS_PROXY", "no_proxy", "NODE_OPTIONS"]) delete env[k];
  const script = 'const r = await fetch("http://details:9080/details/42", { signal: AbortSignal.timeout(10000) }); console.log(JSON.stringify({ status: r.status, body: await r.text() }));';
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
  const res = JSON.parse(out.trim());
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).id, "details");
  assert.ok(log.some((l) => /"GET \/details\/42 HTTP\/1\.1" 200 .* "details:9080" /.test(l)), `access log: ${log.join("")}`);
  assert.ok(plane.stats.get("downstream_cx_connect_total") > before, "fetch came through CONNECT");
});

test("malformed CONNECT authority gets 400", async () => {
  for (const target of ["details", "details:99999"]) {
    const socket = net.connect(port, "127.0.0.1");
    const text = untilClosed(socket);
    socket.write(`CONNECT ${target} HTTP/1.1\r\n\r\n`);
    assert.match(await text, /^HTTP\/1\.1 400 /, target);
  }
  assert.ok(plane.stats.get("downstream_cx_rejected.connect_bad_authority") >= 2);
});

test("garbage inside a tunnel closes that connection only", async () => {
  const good = await openTunnel("details:9080");
  const bad = await openTunnel("details:9080");
  const closed = untilClosed(bad.socket);
  bad.socket.write("\x00\x01\x02 this is not HTTP\r\n\r\n");
  assert.match(await closed, /^HTTP\/1\.1 400 /);
  const r = await getInTunnel(good.socket, "/still/fine", { host: "details:9080" });
  assert.equal(JSON.parse(r.body).id, "details");
  good.socket.destroy();
});

// A TLS record header and the start of a ClientHello: enough for the proxy to recognise TLS.
const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]);

test("TLS inside CONNECT without a PassthroughCluster is closed and counted", async () => {
  const before = plane.stats.get("downstream_cx_rejected.connect_tls_without_passthrough");
  const t = await openTunnel("example.com:443");
  assert.match(t.reply, /^HTTP\/1\.1 200 /);
  const closed = untilClosed(t.socket);
  t.socket.write(CLIENT_HELLO);
  assert.equal(await closed, "", "nothing but a close");
  assert.equal(plane.stats.get("downstream_cx_rejected.connect_tls_without_passthrough"), before + 1);
  // The listener keeps serving.
  const again = await openTunnel("details:9080");
  assert.equal(JSON.parse((await getInTunnel(again.socket, "/", { host: "details:9080" })).body).id, "details");
  again.socket.destroy();
});

test("TLS inside CONNECT with a PassthroughCluster is piped to the CONNECT authority", async () => {
  // A raw TCP server standing in for an HTTPS site: it echoes what it receives.
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
  const echoPort = (echo.address() as AddressInfo).port;
  try {
    const passthrough = { name: "PassthroughCluster", type: "ORIGINAL_DST" as const, lb_policy: "CLUSTER_PROVIDED" as const, connect_timeout: { seconds: 1 } };
    assert.equal(await feed(plane, { clusters: [...resources.clusters!, passthrough] }, "2"), null);
    const t = await openTunnel(`127.0.0.1:${echoPort}`);
    const echoed = new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      t.socket.on("data", (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= CLIENT_HELLO.length + 5) resolve(got);
      });
      t.socket.resume();
    });
    t.socket.write(CLIENT_HELLO);
    t.socket.write("hello");
    assert.deepEqual(await echoed, Buffer.concat([CLIENT_HELLO, Buffer.from("hello")]));
    t.socket.destroy();
    assert.ok(plane.stats.get("downstream_cx_connect_tls_passthrough") >= 1);
  } finally {
    await new Promise<void>((r) => echo.close(() => r()));
  }
});
