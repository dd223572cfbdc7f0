// The ClientHello reader against real ClientHellos (from node:tls), split records, every
// truncation, and garbage: it never throws and never invents a name.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from "./sni.ts";

/** The first flight node:tls sends for these options (a loopback server records it and hangs up). */
function captureClientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          resolve(all);
          s.destroy();
          server.close();
        }
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      const c = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...opts });
      c.on("error", () => {});
    });
    server.on("error", reject);
  });
}

let withSni: Buffer;
let withoutSni: Buffer;

before(async () => {
  withSni = await captureClientHello({ servername: "Api.Example.COM", ALPNProtocols: ["h2", "http/1.1"] });
  withoutSni = await captureClientHello({ servername: "" });
});

test("a real ClientHello gives its server name (lower case) and ALPN list", () => {
  const r = parseClientHello(withSni);
  assert.deepEqual(r, { kind: "ok", serverName: "api.example.com", alpn: ["h2", "http/1.1"] });
});

test("a ClientHello without SNI parses with no server name", () => {
  const r = parseClientHello(withoutSni);
  assert.equal(r.kind, "ok");
  assert.equal(r.kind === "ok" ? r.serverName : "x", undefined);
});

test("every truncation of a ClientHello asks for more bytes, never a wrong answer", () => {
  for (let n = 0; n < withSni.length; n++) {
    const r = parseClientHello(withSni.subarray(0, n));
    assert.equal(r.kind, "incomplete", `prefix of ${n} bytes`);
  }
});

test("a ClientHello split over several handshake records is joined", () => {
  const body = withSni.subarray(5);
  const cuts = [3, 40, 41, body.length]; // a record too short for the handshake header, then odd sizes
  const records: Buffer[] = [];
  let from = 0;
  for (const to of cuts) {
    const part = body.subarray(from, to);
    const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    records.push(head, part);
    from = to;
  }
  const split = Buffer.concat(records);
  assert.deepEqual(parseClientHello(split), { kind: "ok", serverName: "api.example.com", alpn: ["h2", "http/1.1"] });
  for (let n = 0; n < split.length; n++) assert.equal(parseClientHello(split.subarray(0, n)).kind, "incomplete", `split prefix ${n}`);
});

test("plaintext is not TLS; a handshake that is not a ClientHello is invalid", () => {
  assert.deepEqual(parseClientHello(Buffer.from("GET / HTTP/1.1\r\n")), { kind: "not_tls" });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])), { kind: "invalid", reason: "not_client_hello" });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x00])), { kind: "invalid", reason: "record_length" });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x09, 0x03, 0x00, 0x04])), { kind: "invalid", reason: "record_version" });
});

test("lengths that point past the message are invalid, not a crash", () => {
  // Corrupt the extensions' total length so it claims more than the message holds.
  const bad = Buffer.from(withSni);
  const r0 = parseClientHello(bad);
  assert.equal(r0.kind, "ok");
  const sessionLen = bad[5 + 4 + 34]!;
  const ciphersAt = 5 + 4 + 34 + 1 + sessionLen;
  const compAt = ciphersAt + 2 + bad.readUInt16BE(ciphersAt);
  const extAt = compAt + 1 + bad[compAt]!;
  bad.writeUInt16BE(0xffff, extAt);
  assert.deepEqual(parseClientHello(bad), { kind: "invalid", reason: "extensions_length" });
});

test("a server name with bytes no host name has is invalid", () => {
  const i = withSni.indexOf(Buffer.from("Api.Example.COM")); // sent as written
  assert.ok(i > 0);
  const bad = Buffer.from(withSni);
  bad[i + 3] = 0x00; // "api\0example.com"
  assert.deepEqual(parseClientHello(bad), { kind: "invalid", reason: "server_name_value" });
});

test("random bytes never throw and never yield a name", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rand() * 300);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(rand() * 256);
    if (i % 2 === 0 && len >= 5) b.set([0x16, 0x03, 0x01], 0); // look like a TLS record half the time
    const r = parseClientHello(b);
    assert.ok(r.kind !== "ok" || r.serverName === undefined || /^[a-z0-9._-]+$/.test(r.serverName));
  }
  // Mutating single bytes of a real ClientHello: whatever comes out, it is a verdict.
  for (let i = 0; i < withSni.length; i++) {
    const b = Buffer.from(withSni);
    b[i] = b[i]! ^ 0xff;
    const r = parseClientHello(b);
    assert.ok(["ok", "incomplete", "invalid", "not_tls"].includes(r.kind));
  }
});

test("a ClientHello that would exceed the size limit is refused before it is all read", () => {
  const huge = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x02, 0x00, 0x00]);
  assert.deepEqual(parseClientHello(huge), { kind: "invalid", reason: "client_hello_too_large" });
  assert.ok(MAX_CLIENT_HELLO_BYTES >= 16 * 1024);
});
