import { test } from "node:test";
import assert from "node:assert/strict";
import { RequestLog } from "../http/request-log.ts";
import { RECENT_FAILURES_CAPACITY, RecentFailures, isConnectionFailure, isFailure } from "./recent-failures.ts";

function logOf(status: number, flags = "", path = "/"): RequestLog {
  const l = new RequestLog();
  l.status = status;
  l.flags = flags;
  l.path = path;
  return l;
}

test("only failures are kept: 4xx, 5xx, no response, or any flag", () => {
  assert.equal(isFailure(logOf(200)), false);
  assert.equal(isFailure(logOf(304)), false);
  assert.equal(isFailure(logOf(404, "NR")), true);
  assert.equal(isFailure(logOf(403)), true);
  assert.equal(isFailure(logOf(0, "DC")), true);
  assert.equal(isFailure(logOf(200, "DI")), true, "a delayed request that succeeded still carries its flag");
  const r = new RecentFailures();
  r.note(false, logOf(200));
  r.note(true, logOf(503, "UH"));
  assert.equal(r.total, 1);
  const [f] = r.list();
  assert.equal(f.direction, "inbound");
  assert.equal(f.status, 503);
  assert.equal(f.flags, "UH");
});

test("the ring keeps the newest CAPACITY failures, newest first", () => {
  const r = new RecentFailures();
  for (let i = 0; i < RECENT_FAILURES_CAPACITY + 10; i++) r.note(false, logOf(503, "UF", `/${i}`));
  const list = r.list();
  assert.equal(list.length, RECENT_FAILURES_CAPACITY);
  assert.equal(list[0].path, `/${RECENT_FAILURES_CAPACITY + 9}`);
  assert.equal(list.at(-1)?.path, "/10");
  assert.equal(r.total, RECENT_FAILURES_CAPACITY + 10);
  assert.equal(list[0].flags, "UF");
  assert.equal(list[0].requestId, "-");
});

test("TCP connections: kept when the proxy ended them with a flag or a policy denied them, never for status 0 alone", () => {
  const conn = (flags: string, details = "") => {
    const l = logOf(0, flags);
    l.method = "-";
    l.downstreamLocal = "10.1.0.7:3306";
    l.upstreamCluster = "outbound|3306||mysql.default.svc.cluster.local";
    l.details = details;
    return l;
  };
  assert.equal(isConnectionFailure(conn("")), false, "a TCP connection has no status: a clean one is no failure");
  assert.equal(isConnectionFailure(conn("UF", "upstream_connect_failure")), true);
  assert.equal(isConnectionFailure(conn("", "rbac_access_denied_matched_policy[none]")), true);
  const r = new RecentFailures();
  r.note(false, conn(""), "tcp");
  r.note(false, conn("UF", "upstream_connect_failure"), "tcp");
  r.note(true, conn("", "rbac_access_denied_matched_policy[ns[default]-policy[db]-rule[0]]"), "tcp");
  assert.equal(r.total, 2);
  const [denied, refused] = r.list();
  assert.deepEqual([denied.method, denied.direction, denied.authority, denied.path, denied.status], ["TCP", "inbound", "10.1.0.7:3306", "", 0]);
  assert.match(denied.details, /^rbac_access_denied/);
  assert.deepEqual([refused.method, refused.flags, refused.upstreamCluster], ["TCP", "UF", "outbound|3306||mysql.default.svc.cluster.local"]);
});
