import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRequestTarget } from "./request-target.ts";
import { endToEndHeaders, appendForwardedFor } from "./proxy-headers.ts";
import { formatAccessLog } from "./access-log.ts";
import { RequestLog } from "./request-log.ts";
import { backoffMs, BACKOFF_MAX_MS } from "../upstream/retry-decision.ts";

test("request target: absolute form, origin form, junk", () => {
  assert.deepEqual(parseRequestTarget("http://reviews:9080/a/b?x=1", "ignored"), { authority: "reviews:9080", path: "/a/b", query: "x=1" });
  assert.deepEqual(parseRequestTarget("HTTP://svc?q", undefined), { authority: "svc", path: "/", query: "q" });
  assert.deepEqual(parseRequestTarget("/p", "h:1"), { authority: "h:1", path: "/p", query: "" });
  assert.equal(parseRequestTarget("ftp://x/", undefined), undefined);
  assert.equal(parseRequestTarget("http:///nohost", undefined), undefined);
});

test("hop-by-hop headers, including those named by Connection, are dropped", () => {
  const out = endToEndHeaders({ connection: "close, x-a", "x-a": "1", "keep-alive": "t", upgrade: "ws", "transfer-encoding": "chunked", "x-b": "2" });
  assert.deepEqual({ ...out }, { "x-b": "2" });
  appendForwardedFor(out, "1.2.3.4");
  appendForwardedFor(out, "5.6.7.8");
  assert.equal(out["x-forwarded-for"], "1.2.3.4, 5.6.7.8");
});

test("access log fields default to '-' and flags join with commas", () => {
  const r = new RequestLog();
  r.status = 503;
  r.addFlag("UF");
  r.addFlag("URX");
  r.addFlag("UF");
  const line = formatAccessLog(r, r.start + 7);
  assert.match(line, /^\[.+\] "- - HTTP\/1\.1" 503 UF,URX - - "-" 0 0 7 - "-" "-" "-" "-" "-" - - - - - -\n$/);
});

test("retry back-off stays under Envoy's cap", () => {
  for (let n = 1; n < 20; n++) {
    const b = backoffMs(n);
    assert.ok(b >= 0 && b < BACKOFF_MAX_MS);
  }
});
