import { test } from "node:test";
import assert from "node:assert/strict";
import { Http1Responses, Http1ResponseError } from "./http1-responses.ts";

function feed(parts: (string | Buffer)[]): number[] {
  const seen: number[] = [];
  const r = new Http1Responses((s) => seen.push(s));
  for (const p of parts) r.push(typeof p === "string" ? Buffer.from(p, "latin1") : p);
  assert.equal(r.idle, true, "every response was read to its end");
  return seen;
}

const fixed = (status: number, body: string) => `HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

test("responses with Content-Length, back to back in one chunk", () => {
  assert.deepEqual(feed([fixed(200, "hello") + fixed(503, "no") + fixed(200, "")]), [200, 503, 200]);
});

test("a response split at every byte is still found once", () => {
  const text = fixed(200, "x".repeat(1024)) + fixed(404, "gone");
  assert.deepEqual(feed([...text].map((ch) => ch)), [200, 404]);
});

test("chunked bodies with extensions and trailers; 204 and 304 have no body", () => {
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n";
  const empty = "HTTP/1.1 204 No Content\r\n\r\n";
  const notModified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
  assert.deepEqual(feed([chunked + empty, notModified, chunked.slice(0, 60), chunked.slice(60)]), [200, 204, 304, 200]);
});

test("a body does not count as the next response's head", () => {
  const body = "HTTP/1.1 500 fake\r\n\r\n"; // looks like a response, but is the body
  assert.deepEqual(feed([fixed(200, body), fixed(201, "")]), [200, 201]);
});

test("bytes that are not HTTP, and a body framed by close, are errors", () => {
  const r = new Http1Responses(() => {});
  assert.throws(() => r.push(Buffer.from("\x16\x03\x01 binary\r\n\r\n", "latin1")), Http1ResponseError);
  const r2 = new Http1Responses(() => {});
  assert.throws(() => r2.push(Buffer.from("HTTP/1.1 200 OK\r\n\r\nbody until close")), /not supported/);
  const r3 = new Http1Responses(() => {});
  assert.throws(() => r3.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")), /bad chunk size/);
});
