import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import http from "node:http";
import { cla, deadPort, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";

let ok: Upstream, slow: Upstream, flaky: Upstream, resetter: Upstream;
let flakyCalls = 0;
let grpcCalls = 0;
let grpc: Upstream;
let dead: number;
let plane: DataPlane & { port(l: string): number };
let port: number;
const log: string[] = [];

before(async () => {
  ok = await startUpstream("ok");
  slow = await startUpstream("slow", (_req, res) => {
    const t = setTimeout(() => res.end("late"), 3000);
    res.on("close", () => clearTimeout(t));
  });
  flaky = await startUpstream("flaky", (_req, res) => {
    flakyCalls++;
    res.writeHead(flakyCalls % 2 === 1 ? 503 : 200);
    res.end(flakyCalls % 2 === 1 ? "busy" : "fine");
  });
  // Resets before answering on /before, after the first body bytes on /after.
  resetter = await startUpstream("resetter", (req, res) => {
    if (req.url?.startsWith("/uc/before")) return void req.socket.destroy();
    res.writeHead(200, { "content-length": 1000 });
    res.write("partial");
    setTimeout(() => req.socket.destroy(), 20);
  });
  grpc = await startUpstream("grpc", (_req, res) => {
    grpcCalls++;
    res.writeHead(200, { "content-type": "application/grpc", "grpc-status": grpcCalls === 1 ? "14" : "0" });
    res.end();
  });
  dead = await deadPort();
  plane = await startPlane({
    clusters: [edsCluster("ok"), edsCluster("slow"), edsCluster("dead"), edsCluster("empty"), edsCluster("mixed"), edsCluster("flaky"), edsCluster("unhealthy"), edsCluster("resetter"), edsCluster("grpc")],
    endpoints: [
      cla("ok", [{ port: ok.port }]), cla("slow", [{ port: slow.port }]), cla("dead", [{ port: dead }]), cla("empty", []),
      cla("mixed", [{ port: dead }, { port: ok.port }]), cla("flaky", [{ port: flaky.port }]), cla("unhealthy", [{ port: ok.port, health: "UNHEALTHY" }]), cla("resetter", [{ port: resetter.port }]), cla("grpc", [{ port: grpc.port }]),
    ],
    listeners: [hcmListener("p", { rds: "p", accessLog: true })],
    routes: [routeConfig("p", [vhost("all", ["*"], [
      toCluster("nope", "/nc"),
      toCluster("empty", "/uh"),
      toCluster("unhealthy", "/unhealthy"),
      toCluster("dead", "/uf"),
      toCluster("slow", "/ut", {}, { timeout: { nanos: 200_000_000 } }),
      toCluster("slow", "/pertry", {}, { retry_policy: { retry_on: "5xx", num_retries: { value: 1 }, per_try_timeout: { nanos: 100_000_000 } } }),
      toCluster("mixed", "/retry", {}, { retry_policy: { retry_on: "connect-failure", num_retries: { value: 2 }, retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }] } }),
      toCluster("flaky", "/codes", {}, { retry_policy: { retry_on: "retriable-status-codes", retriable_status_codes: [503], num_retries: { value: 2 } } }),
      toCluster("resetter", "/uc"),
      toCluster("grpc", "/pkg.Svc/", {}, { retry_policy: { retry_on: "unavailable,cancelled", num_retries: { value: 1 } } }),
      toCluster("dead", "/limited", {}, { retry_policy: { retry_on: "connect-failure", num_retries: { value: 1 } } }),
      toCluster("slow", "/hang", {}, { timeout: { seconds: 0 } }),
      toCluster("ok", "/"),
    ])])],
  }, { accessLog: log });
  port = plane.port("p");
});

after(async () => {
  await plane.close();
  await Promise.all([ok.close(), slow.close(), flaky.close(), resetter.close(), grpc.close()]);
});

function lineFor(path: string): string {
  const l = log.find((x) => x.includes(` ${path} HTTP/1.1"`));
  assert.ok(l, `access log line for ${path}`);
  return l!;
}

test("NC: a route to a cluster that does not exist answers 503", async () => {
  const r = await viaProxy(port, "http://svc/nc");
  assert.equal(r.status, 503);
  assert.equal(r.body, "no cluster");
  assert.match(lineFor("/nc"), /" 503 NC cluster_not_found /);
});

test("UH: no healthy endpoint answers 503 no healthy upstream", async () => {
  for (const path of ["/uh", "/unhealthy"]) {
    const r = await viaProxy(port, `http://svc${path}`);
    assert.equal(r.status, 503);
    assert.equal(r.body, "no healthy upstream");
    assert.match(lineFor(path), /" 503 UH no_healthy_upstream /);
  }
});

test("UF: connect failure answers 503 with Envoy's text", async () => {
  const r = await viaProxy(port, "http://svc/uf");
  assert.equal(r.status, 503);
  assert.equal(r.body, "upstream connect error or disconnect/reset before headers. reset reason: connection failure");
  assert.match(lineFor("/uf"), /" 503 UF upstream_reset_before_response_started\{connection_failure\} - "ECONNREFUSED" /);
});

test("UT: the route timeout answers 504 against a slow upstream", async () => {
  const r = await viaProxy(port, "http://svc/ut");
  assert.equal(r.status, 504);
  assert.equal(r.body, "upstream request timeout");
  assert.match(lineFor("/ut"), /" 504 UT upstream_response_timeout /);
});

test("per-try timeout is retried, then answers 504 UT", async () => {
  const r = await viaProxy(port, "http://svc/pertry");
  assert.equal(r.status, 504);
  assert.match(lineFor("/pertry"), /" 504 UT upstream_per_try_timeout /);
  assert.ok(plane.runtimes.peek("slow")!.rqRetry >= 1);
});

test("retry on connect-failure moves to the live endpoint", async () => {
  for (let i = 0; i < 4; i++) {
    const r = await viaProxy(port, "http://svc/retry");
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).id, "ok");
  }
  assert.ok(plane.runtimes.peek("mixed")!.hosts.get(`127.0.0.1:${dead}`)!.cxConnectFail >= 1);
});

test("retriable status codes are retried, with a small buffered body replayed", async () => {
  flakyCalls = 0;
  const r = await viaProxy(port, "http://svc/codes", { method: "POST", body: "payload" });
  assert.equal(r.status, 200);
  assert.equal(r.body, "fine");
  assert.equal(flakyCalls, 2);
});

test("gRPC status in headers is retried by name", async () => {
  const r = await viaProxy(port, "http://svc/pkg.Svc/Call", { method: "POST", headers: { "content-type": "application/grpc" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers["grpc-status"], "0");
  assert.equal(grpcCalls, 2);
});

test("retries exhausted: the failure is answered and flagged URX", async () => {
  const r = await viaProxy(port, "http://svc/limited");
  assert.equal(r.status, 503);
  assert.match(lineFor("/limited"), /" 503 UF,URX upstream_reset_before_response_started\{connection_failure\} /);
});

test("a body too large to buffer is streamed once and never resent", async () => {
  flakyCalls = 0;
  const r = await viaProxy(port, "http://svc/codes", { method: "POST", body: Buffer.alloc(100 * 1024, 1) });
  assert.equal(r.status, 503);
  assert.equal(flakyCalls, 1);
});

test("CONNECT without a port gets 400 with an explanation", async () => {
  const text = await rawExchange("CONNECT reviews HTTP/1.1\r\nHost: reviews\r\n\r\n");
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /host:port/);
});

test("garbage bytes and oversize headers close that connection; the proxy keeps serving", async () => {
  const garbage = await rawExchange("\x00\x01\x02 not http at all\r\n\r\n");
  assert.match(garbage, /^HTTP\/1\.1 400 /);
  const big = await rawExchange(`GET http://svc/ HTTP/1.1\r\nHost: svc\r\nX-Big: ${"a".repeat(70 * 1024)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431 /);
  const many = await rawExchange(`GET http://svc/ HTTP/1.1\r\nHost: svc\r\n${Array.from({ length: 150 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`);
  assert.match(many, /^HTTP\/1\.1 431 /);
  assert.ok(plane.stats.get("downstream_cx_rejected.malformed_request") >= 1);
  assert.ok(plane.stats.get("downstream_cx_rejected.header_overflow") >= 1);
  assert.ok(plane.stats.get("downstream_cx_rejected.too_many_headers") >= 1);
  const r = await viaProxy(port, "http://svc/");
  assert.equal(r.status, 200);
});

test("a client that disconnects mid-request is logged with DC", async () => {
  await new Promise<void>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: "http://svc/hang/dc", headers: { host: "svc" }, agent: false });
    req.on("error", () => resolve());
    req.end();
    setTimeout(() => req.destroy(), 50);
  });
  for (let i = 0; i < 50 && !log.some((l) => l.includes("/hang/dc")); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(lineFor("/hang/dc"), /" 0 DC downstream_remote_disconnect /);
});

test("UC: an upstream reset before headers answers 503; after headers the client connection is reset", async () => {
  const r = await viaProxy(port, "http://svc/uc/before");
  assert.equal(r.status, 503);
  assert.equal(r.body, "upstream connect error or disconnect/reset before headers. reset reason: connection termination");
  assert.match(lineFor("/uc/before"), /" 503 UC upstream_reset_before_response_started\{connection_termination\} /);
  await assert.rejects(viaProxy(port, "http://svc/uc/after"));
  for (let i = 0; i < 50 && !log.some((l) => l.includes("/uc/after")); i++) await new Promise((res) => setTimeout(res, 20));
  assert.match(lineFor("/uc/after"), /" 200 UC /);
  assert.equal((await viaProxy(port, "http://svc/")).status, 200);
});

test("a client that aborts in the middle of a request body does not hurt the proxy", async () => {
  await new Promise<void>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "http://svc/hang/upload", headers: { host: "svc", "content-length": 1_000_000 }, agent: false });
    req.on("error", () => resolve());
    req.write(Buffer.alloc(100_000));
    setTimeout(() => req.destroy(), 50);
  });
  assert.equal((await viaProxy(port, "http://svc/")).status, 200);
});

function rawExchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    let got = "";
    s.on("data", (c) => { got += c; });
    s.on("close", () => resolve(got));
    s.on("error", (e) => (got ? resolve(got) : reject(e)));
    s.setTimeout(5000, () => s.destroy());
  });
}
