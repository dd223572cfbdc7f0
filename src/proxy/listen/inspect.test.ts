// The listener filters' verdicts on first bytes, and the bounded wait on a real socket pair.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { httpVerdict, inspectBytes, inspectConnection, type Inspection } from "./inspect.ts";

test("http_inspector: request lines and the HTTP/2 preface are HTTP; other protocols are not", () => {
  assert.equal(httpVerdict(Buffer.from("GET / HTTP/1.1\r\n")), "http/1.1");
  assert.equal(httpVerdict(Buffer.from("OPTIONS * HTTP/1.0\r\nHost: x\r\n")), "http/1.1");
  assert.equal(httpVerdict(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "h2c");
  assert.equal(httpVerdict(Buffer.from("PRI * HTTP/2")), "more");
  assert.equal(httpVerdict(Buffer.from("GET /long/path/wait")), "more");
  assert.equal(httpVerdict(Buffer.from("GE")), "more");
  assert.equal(httpVerdict(Buffer.from("GET / SMTP/1.0\r\n")), "no");
  assert.equal(httpVerdict(Buffer.from("EHLO mail.example.com\r\n")), "no");
  assert.equal(httpVerdict(Buffer.from([0x16, 0x03, 0x01])), "no", "TLS");
  assert.equal(httpVerdict(Buffer.from("*1\r\n$4\r\nPING\r\n")), "no", "Redis");
  assert.equal(httpVerdict(Buffer.from(`GET /${"a".repeat(9000)}`)), "no", "a request line longer than any client sends");
});

test("inspectBytes waits while an inspector needs more, and decides with what it has at the end", () => {
  const both = { tls: true, http: true };
  assert.equal(inspectBytes(Buffer.from("GET / HT"), both, false), undefined);
  assert.deepEqual(inspectBytes(Buffer.from("GET / HT"), both, true), { transport: "raw_buffer", serverName: undefined, applicationProtocol: undefined, timedOut: false });
  assert.deepEqual(inspectBytes(Buffer.from("hello\n"), both, false), { transport: "raw_buffer", serverName: undefined, applicationProtocol: undefined, timedOut: false });
  assert.equal(inspectBytes(Buffer.from([0x16, 0x03, 0x01, 0x00]), both, false), undefined, "a ClientHello in progress");
  assert.equal(inspectBytes(Buffer.from([0x16, 0x03, 0x01, 0x00]), { tls: false, http: true }, false)?.applicationProtocol, undefined, "without tls_inspector TLS is just not HTTP");
});

async function pair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const accepted = new Promise<net.Socket>((r) => srv.once("connection", r));
  const client = net.connect((srv.address() as net.AddressInfo).port, "127.0.0.1");
  const server = await accepted;
  return { client, server, close: () => { client.destroy(); server.destroy(); srv.close(); } };
}

function inspect(server: net.Socket, opts: { tls: boolean; http: boolean; timeoutMs: number; continueOnTimeout: boolean }): Promise<{ r: Inspection | undefined; reason: string | undefined }> {
  return new Promise((resolve) => inspectConnection(server, Buffer.alloc(0), opts, (r, reason) => resolve({ r, reason })));
}

test("a silent client (server-first protocol) goes on as TCP after the timeout; the bytes read are handed back", async () => {
  const p = await pair();
  try {
    const silent = await inspect(p.server, { tls: false, http: true, timeoutMs: 30, continueOnTimeout: true });
    assert.deepEqual(silent.r, { transport: "raw_buffer", serverName: undefined, applicationProtocol: undefined, timedOut: true });
    const p2 = await pair();
    p2.client.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    const http = await inspect(p2.server, { tls: false, http: true, timeoutMs: 5_000, continueOnTimeout: true });
    assert.equal(http.r?.applicationProtocol, "http/1.1");
    const replay = await new Promise<string>((r) => p2.server.once("data", (c: Buffer) => r(c.toString())).resume());
    assert.ok(replay.startsWith("GET /x HTTP/1.1"), "the sniffed bytes are read again by whoever serves the chain");
    p2.close();
  } finally {
    p.close();
  }
});

test("without continue-on-timeout a silent connection is given up; a client that hangs up is reported", async () => {
  const p = await pair();
  const r = await inspect(p.server, { tls: true, http: false, timeoutMs: 20, continueOnTimeout: false });
  assert.deepEqual(r, { r: undefined, reason: "listener_filters_timeout" });
  p.close();
  const q = await pair();
  q.client.end();
  const gone = await inspect(q.server, { tls: true, http: true, timeoutMs: 0, continueOnTimeout: false });
  assert.equal(gone.r, undefined);
  q.close();
});
