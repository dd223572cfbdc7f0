import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { MAX_HEAD_BYTES, ResponseParser, type ResponseHead } from "./response-parser.ts";

interface Parsed {
  heads: ResponseHead[];
  body: string;
  trailers: IncomingHttpHeaders | undefined;
  complete: number;
}

function parserFor(out: Parsed): ResponseParser {
  return new ResponseParser({
    onHead: (h) => out.heads.push(h),
    onBody: (c) => {
      out.body += c.toString("latin1");
    },
    onTrailers: (t) => {
      out.trailers = t;
    },
    onComplete: () => {
      out.complete++;
    },
  });
}

/** Feeds `wire` in pieces cut at the given offsets. */
function parseIn(wire: string, cuts: number[], noBody = false): Parsed {
  const out: Parsed = { heads: [], body: "", trailers: undefined, complete: 0 };
  const p = parserFor(out);
  p.expect(noBody);
  const buf = Buffer.from(wire, "latin1");
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    if (c > at) p.execute(buf.subarray(at, c));
    at = c;
  }
  return out;
}

/** Parses `wire` whole, then split in two at every byte, then one byte at a time; all must agree. */
function parseEverySplit(wire: string, noBody = false): Parsed {
  const whole = parseIn(wire, [], noBody);
  for (let i = 1; i < wire.length; i++) {
    const split = parseIn(wire, [i], noBody);
    assert.deepEqual(split, whole, `split at byte ${i}`);
  }
  const bytes = parseIn(wire, Array.from({ length: wire.length }, (_, i) => i), noBody);
  assert.deepEqual(bytes, whole, "one byte at a time");
  return whole;
}

test("a content-length response parses the same at every split point", () => {
  const r = parseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello");
  assert.equal(r.heads.length, 1);
  assert.equal(r.heads[0].statusCode, 200);
  assert.equal(r.heads[0].statusMessage, "OK");
  assert.equal(r.heads[0].keepAlive, true);
  assert.equal(r.heads[0].headers["x-a"], "1");
  assert.deepEqual(r.heads[0].rawHeaders, ["Content-Length", "5", "X-A", "1"]);
  assert.equal(r.body, "hello");
  assert.equal(r.complete, 1);
});

test("chunked bodies with extensions and trailers parse at every split point", () => {
  const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;name=value\r\nhello\r\n" + "1 ; x\r\n,\r\n" + "A\r\n0123456789\r\n" + "0\r\nGrpc-Status: 0\r\nX-T: a\r\nX-T: b\r\n\r\n";
  const r = parseEverySplit(wire);
  assert.equal(r.body, "hello,0123456789");
  assert.deepEqual({ ...r.trailers }, { "grpc-status": "0", "x-t": "a, b" });
  assert.equal(r.complete, 1);
});

test("1xx answers are skipped; the final answer's head is the one reported", () => {
  const r = parseEverySplit("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  assert.deepEqual(r.heads.map((h) => h.statusCode), [201]);
  assert.equal(r.body, "ok");
});

test("HEAD, 204 and 304 answers have no body whatever their headers say", () => {
  assert.equal(parseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true).complete, 1);
  assert.equal(parseEverySplit("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").complete, 1);
  assert.equal(parseEverySplit("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n").complete, 1);
});

test("repeated headers follow Node's rules", () => {
  const r = parseIn("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nVia: x\r\nVia: y\r\nContent-Length: 0\r\n\r\n", []);
  const h = r.heads[0].headers;
  assert.deepEqual(h["set-cookie"], ["a=1", "b=2"]);
  assert.equal(h["content-type"], "text/plain");
  assert.equal(h.via, "x, y");
  assert.equal(Object.getPrototypeOf(h), null);
});

test("a body without framing runs until the connection closes and is not kept alive", () => {
  const out: Parsed = { heads: [], body: "", trailers: undefined, complete: 0 };
  const p = parserFor(out);
  p.expect(false);
  p.execute(Buffer.from("HTTP/1.1 200 OK\r\n\r\nabc"));
  p.execute(Buffer.from("def"));
  assert.equal(out.complete, 0);
  assert.equal(out.heads[0].keepAlive, false);
  p.finish();
  assert.equal(out.body, "abcdef");
  assert.equal(out.complete, 1);
});

test("Connection: close and HTTP/1.0 without keep-alive end reuse", () => {
  assert.equal(parseIn("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", []).heads[0].keepAlive, false);
  assert.equal(parseIn("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", []).heads[0].keepAlive, false);
  assert.equal(parseIn("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", []).heads[0].keepAlive, true);
});

test("a connection that closes early is an error; before any byte it is a hang-up", () => {
  const out: Parsed = { heads: [], body: "", trailers: undefined, complete: 0 };
  const p = parserFor(out);
  p.expect(false);
  assert.throws(() => p.finish(), { code: "ECONNRESET" });
  p.expect(false);
  p.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  assert.throws(() => p.finish(), { code: "MIZZEN_HTTP1_PROTOCOL", message: /response body/ });
});

test("bad framing is a protocol error", () => {
  const bad: [string, RegExp][] = [
    ["HTTX/1.1 200 OK\r\n\r\n", /status line/],
    ["HTTP/1.1 2000 OK\r\n\r\n", /status line/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", /Content-Length/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", /conflicting/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", /both/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /chunk size/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", /CRLF/],
    ["HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", /header name/],
    ["HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", /folding/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", /after the end/],
    ["HTTP/1.1 101 Switching Protocols\r\n\r\n", /101/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", /trailer/],
    ["HTTP/1.1 200 OK\nContent-Length: 0\n\n", /bare LF/],
  ];
  for (const [wire, message] of bad) assert.throws(() => parseIn(wire, []), { code: "MIZZEN_HTTP1_PROTOCOL", message }, wire);
});

test("heads and trailer sections over 64 KiB are protocol errors, whole or in pieces", () => {
  const big = "HTTP/1.1 200 OK\r\n" + `X-Big: ${"a".repeat(MAX_HEAD_BYTES)}\r\n` + "Content-Length: 0\r\n\r\n";
  assert.throws(() => parseIn(big, []), { message: /head over/ });
  assert.throws(() => parseIn(big, Array.from({ length: 40 }, (_, i) => i * 2000)), { message: /head over/ });
  // Just under the bound is fine.
  const fits = "HTTP/1.1 200 OK\r\n" + `X-Big: ${"a".repeat(MAX_HEAD_BYTES - 100)}\r\n` + "Content-Length: 0\r\n\r\n";
  assert.equal(parseIn(fits, [1000, 30000]).complete, 1);
  const trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + `X-T: ${"b".repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
  assert.throws(() => parseIn(trailers, [100, 5000]), { message: /trailer section over/ });
  assert.throws(() => parseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + "e".repeat(5000) + "\r\n", []), { message: /chunk size line over/ });
});

test("no bytes are accepted when no request is outstanding, and the parser is reusable", () => {
  const out: Parsed = { heads: [], body: "", trailers: undefined, complete: 0 };
  const p = parserFor(out);
  assert.throws(() => p.execute(Buffer.from("HTTP/1.1 200 OK\r\n\r\n")), { message: /no request outstanding/ });
  for (let i = 0; i < 3; i++) {
    p.expect(false);
    p.execute(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${i}`));
  }
  assert.equal(out.body, "012");
  assert.equal(out.complete, 3);
  assert.equal(p.busy, false);
});
