import { test } from "node:test";
import assert from "node:assert/strict";
import { duration, hostName, ipOrCidr, isIPv6, parseDurationMs } from "./checks.ts";
import { re2Error } from "./re2.ts";

test("durations are parsed strictly, Go style", () => {
  assert.equal(parseDurationMs("1.5s"), 1500);
  assert.equal(parseDurationMs("100ms"), 100);
  assert.equal(parseDurationMs("1h"), 3_600_000);
  assert.equal(parseDurationMs("1h30m"), 5_400_000);
  assert.equal(parseDurationMs(".5s"), 500);
  for (const bad of ["", "5", "1.5 s", "-1s", "1d", "s", "1s ", "1e3ms", "1,5s"]) assert.equal(parseDurationMs(bad), null, bad);
  assert.equal(duration("1ms"), null);
  assert.match(duration("999us")!, /shorter than 1ms/);
  assert.match(duration(5)!, /must be a string/);
});

test("host names: FQDN, short, wildcard prefix, star only where allowed", () => {
  for (const ok of ["reviews", "reviews.default.svc.cluster.local", "*.example.com", "*", "api.example.com."]) assert.equal(hostName(ok, true), null, ok);
  assert.match(hostName("*", false)!, /not allowed here/);
  assert.match(hostName("foo.*.com", true)!, /first label/);
  assert.match(hostName("-bad.com", true)!, /not a valid domain name/);
  assert.match(hostName("a..b", true)!, /not a valid domain name/);
  assert.match(hostName("x".repeat(64) + ".com", true)!, /not a valid domain name/);
});

test("IP addresses and CIDR blocks", () => {
  assert.equal(ipOrCidr("10.0.0.0/8"), null);
  assert.equal(ipOrCidr("2001:db8::/32"), null);
  assert.equal(ipOrCidr("::1"), null);
  assert.ok(isIPv6("::ffff:10.0.0.1"));
  assert.ok(!isIPv6("1:2:3:4:5:6:7:8:9"));
  assert.match(ipOrCidr("10.0.0.256")!, /not an IP/);
  assert.match(ipOrCidr("10.0.0.0/33")!, /prefix length/);
});

test("regexes: RE2 syntax accepted, JavaScript-only constructs rejected", () => {
  for (const ok of ["^/api/v[0-9]+$", "(?i)jason", "(?P<id>[a-z]+)", "a+?b", "[(?=]x", "\\d{2,3}", "(?s:.*)\\z"]) assert.equal(re2Error(ok), null, ok);
  assert.match(re2Error("(?=a)b")!, /lookahead/);
  assert.match(re2Error("(?<!a)b")!, /lookbehind/);
  assert.match(re2Error("(a)\\1")!, /backreference/);
  assert.match(re2Error("(?<n>a)\\k<n>")!, /named backreference/);
  assert.match(re2Error("a++")!, /possessive/);
  assert.match(re2Error("(?>a)")!, /atomic/);
  assert.match(re2Error("[a-")!, /does not compile/);
  assert.match(re2Error(7)!, /must be a string/);
});
