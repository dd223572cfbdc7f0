import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigInvalid } from "../../state/string-match.ts";
import { compileRbac, evaluateRbac, rbacDenialDetails, RBAC_TYPE_URL, type AuthzRequest, type CompiledRbac } from "./rbac.ts";
import { compileCidr, parseIp } from "./rbac-cidr.ts";

function request(over: Partial<AuthzRequest> = {}): AuthzRequest {
  return {
    method: "GET", path: "/api/items?x=1", authority: "reviews.prod:9080", headers: {},
    directRemoteIp: "10.1.2.3", remoteIp: "10.1.2.3", destinationIp: "10.9.0.1", destinationPort: 9080,
    principal: undefined, sni: undefined, metadata: {}, ...over,
  };
}

/** One ALLOW filter whose only policy "p" has this permission and principal. */
function allowOnly(permission: unknown, principal: unknown = { any: true }): CompiledRbac[] {
  return [compileRbac({ "@type": RBAC_TYPE_URL, rules: { action: "ALLOW", policies: { p: { permissions: [permission], principals: [principal] } } } }, "f")];
}

function allowed(filters: CompiledRbac[], over: Partial<AuthzRequest> = {}): boolean {
  return evaluateRbac(filters, request(over)).allowed;
}

test("header matchers: Envoy's string forms, deprecated forms, presence, invert, absent headers", () => {
  const exact = allowOnly({ header: { name: "X-User", string_match: { exact: "ann" } } });
  assert.equal(allowed(exact, { headers: { "x-user": "ann" } }), true, "names are case-insensitive");
  assert.equal(allowed(exact, { headers: { "x-user": "bob" } }), false);
  assert.equal(allowed(exact), false, "absent header never matches a string matcher");
  const inverted = allowOnly({ header: { name: "x-user", string_match: { exact: "ann" }, invert_match: true } });
  assert.equal(allowed(inverted, { headers: { "x-user": "bob" } }), true);
  assert.equal(allowed(inverted), false, "absent header does not match an inverted string matcher either");
  const missingEmpty = allowOnly({ header: { name: "x-user", string_match: { exact: "ann" }, invert_match: true, treat_missing_header_as_empty: true } });
  assert.equal(allowed(missingEmpty), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-v", prefix_match: "v1." } }), { headers: { "x-v": "v1.2" } }), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-v", suffix_match: "-beta" } }), { headers: { "x-v": "2-beta" } }), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-v", contains_match: "mid" } }), { headers: { "x-v": "amidb" } }), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-v", exact_match: "a" } }), { headers: { "x-v": "b" } }), false);
  assert.equal(allowed(allowOnly({ header: { name: "x-v", safe_regex_match: { regex: "v[0-9]+" } } }), { headers: { "x-v": "v12" } }), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-n", range_match: { start: 10, end: 20 } } }), { headers: { "x-n": "19" } }), true);
  assert.equal(allowed(allowOnly({ header: { name: "x-n", range_match: { start: 10, end: 20 } } }), { headers: { "x-n": "20" } }), false);
  const ic = allowOnly({ header: { name: "x-v", string_match: { exact: "ABC", ignore_case: true } } });
  assert.equal(allowed(ic, { headers: { "x-v": "abc" } }), true);
  const present = allowOnly({ header: { name: "x-token", present_match: true } });
  assert.equal(allowed(present, { headers: { "x-token": "" } }), true);
  assert.equal(allowed(present), false);
  const absent = allowOnly({ header: { name: "x-token", present_match: true, invert_match: true } });
  assert.equal(allowed(absent), true);
  assert.equal(allowed(absent, { headers: { "x-token": "t" } }), false);
  const joined = allowOnly({ header: { name: "set-cookie", string_match: { exact: "a=1,b=2" } } });
  assert.equal(allowed(joined, { headers: { "set-cookie": ["a=1", "b=2"] } }), true, "values are joined with ','");
});

test("pseudo headers come from the request line; url_path ignores the query", () => {
  assert.equal(allowed(allowOnly({ header: { name: ":method", string_match: { exact: "GET" } } })), true);
  assert.equal(allowed(allowOnly({ header: { name: ":method", string_match: { exact: "POST" } } })), false);
  assert.equal(allowed(allowOnly({ header: { name: ":path", string_match: { exact: "/api/items?x=1" } } })), true);
  assert.equal(allowed(allowOnly({ header: { name: ":authority", string_match: { prefix: "reviews.", ignore_case: true } } }), { authority: "Reviews.prod" }), true);
  const path = allowOnly({ url_path: { path: { exact: "/api/items" } } });
  assert.equal(allowed(path), true);
  assert.equal(allowed(path, { path: "/api/items#frag" }), true);
  assert.equal(allowed(path, { path: "/api/items/1" }), false);
});

test("ports, port ranges, destination IP and SNI", () => {
  assert.equal(allowed(allowOnly({ destination_port: 9080 })), true);
  assert.equal(allowed(allowOnly({ destination_port: 80 })), false);
  assert.equal(allowed(allowOnly({ destination_port_range: { start: 9000, end: 9081 } })), true);
  assert.equal(allowed(allowOnly({ destination_port_range: { start: 9000, end: 9080 } })), false, "the end is exclusive");
  assert.equal(allowed(allowOnly({ destination_ip: { address_prefix: "10.9.0.0", prefix_len: { value: 16 } } })), true);
  assert.equal(allowed(allowOnly({ destination_ip: { address_prefix: "10.8.0.0", prefix_len: { value: 16 } } })), false);
  const sni = allowOnly({ requested_server_name: { suffix: ".svc.cluster.local" } });
  assert.equal(allowed(sni, { sni: "a.svc.cluster.local" }), true);
  assert.equal(allowed(sni), false, "no SNI is the empty string");
});

test("source addresses: direct peer, original client, IPv6 and IPv4-mapped peers", () => {
  const direct = allowOnly({ any: true }, { direct_remote_ip: { address_prefix: "10.1.0.0", prefix_len: { value: 16 } } });
  assert.equal(allowed(direct), true);
  assert.equal(allowed(direct, { directRemoteIp: "::ffff:10.1.9.9" }), true, "an IPv4-mapped peer is IPv4");
  assert.equal(allowed(direct, { directRemoteIp: "10.2.0.1", remoteIp: "10.1.0.1" }), false, "x-forwarded-for does not count");
  const remote = allowOnly({ any: true }, { remote_ip: { address_prefix: "192.168.0.7", prefix_len: { value: 32 } } });
  assert.equal(allowed(remote, { remoteIp: "192.168.0.7" }), true);
  assert.equal(allowed(remote), false);
  const v6 = allowOnly({ any: true }, { direct_remote_ip: { address_prefix: "2001:db8::", prefix_len: { value: 32 } } });
  assert.equal(allowed(v6, { directRemoteIp: "2001:db8:1::5" }), true);
  assert.equal(allowed(v6, { directRemoteIp: "2001:db9::5" }), false);
  assert.equal(allowed(v6), false, "IPv4 never matches an IPv6 range");
  assert.equal(allowed(v6, { directRemoteIp: "not-an-ip" }), false);
});

test("IP parsing and CIDR edge cases", () => {
  assert.equal(parseIp("1.2.3.4"), 0x01020304);
  assert.equal(parseIp("255.255.255.255"), 0xffffffff);
  assert.equal(parseIp("::ffff:1.2.3.4"), 0x01020304);
  assert.equal(parseIp("::1"), 1n);
  assert.equal(parseIp("fe80::1%eth0"), (0xfe80n << 112n) | 1n);
  assert.equal(parseIp("1:2:3:4:5:6:7:8"), 0x00010002000300040005000600070008n);
  for (const bad of ["1.2.3", "1.2.3.256", "1..2.3", "1:2:3:4:5:6:7:8:9", "1::2::3", "::g", "", "1.2.3.4.5"]) assert.equal(parseIp(bad), undefined, bad);
  assert.equal(compileCidr({ address_prefix: "0.0.0.0" }, "c")(parseIp("8.8.8.8")), true, "an absent prefix_len is 0");
  assert.equal(compileCidr({ address_prefix: "0.0.0.0", prefix_len: {} }, "c")(parseIp("::1")), false, "/0 still keeps the family");
  assert.equal(compileCidr({ address_prefix: "10.0.0.1", prefix_len: { value: 99 } }, "c")(parseIp("10.0.0.1")), true, "clamped to /32");
  assert.equal(compileCidr({ address_prefix: "::ffff:10.0.0.0", prefix_len: { value: 104 } }, "c")(parseIp("10.200.0.1")), true);
  assert.equal(compileCidr({ address_prefix: "128.0.0.0", prefix_len: { value: 1 } }, "c")(parseIp("200.0.0.1")), true);
  assert.equal(compileCidr({ address_prefix: "128.0.0.0", prefix_len: { value: 1 } }, "c")(parseIp("100.0.0.1")), false);
});

test("authenticated principals: peer URI SAN; plaintext never matches", () => {
  const exact = allowOnly({ any: true }, { authenticated: { principal_name: { exact: "spiffe://cluster.local/ns/a/sa/b" } } });
  assert.equal(allowed(exact, { principal: "spiffe://cluster.local/ns/a/sa/b" }), true);
  assert.equal(allowed(exact, { principal: "spiffe://cluster.local/ns/a/sa/c" }), false);
  assert.equal(allowed(exact), false);
  const anyTls = allowOnly({ any: true }, { authenticated: {} });
  assert.equal(allowed(anyTls, { principal: "spiffe://x/ns/y/sa/z" }), true);
  assert.equal(allowed(anyTls), false);
  const ns = allowOnly({ any: true }, { authenticated: { principal_name: { safe_regex: { regex: ".*/ns/prod/.*" } } } });
  assert.equal(allowed(ns, { principal: "spiffe://cluster.local/ns/prod/sa/x" }), true);
  assert.equal(allowed(ns, { principal: "spiffe://cluster.local/ns/production/sa/x" }), false);
});

test("metadata matchers: strings, lists, a string as a one-element list, nesting, absence, invert", () => {
  const md = { istio_authn: { "request.auth.principal": "iss/sub", "request.auth.audiences": ["a", "b"], "request.auth.claims": { groups: "dev", realm: { roles: ["admin"] }, n: 3, ok: true } } };
  const m = (path: string[], value: unknown, invert = false) => allowOnly({ any: true }, { metadata: { filter: "istio_authn", path: path.map((key) => ({ key })), value, invert } });
  const list = (exact: string) => ({ list_match: { one_of: { string_match: { exact } } } });
  assert.equal(allowed(m(["request.auth.principal"], { string_match: { exact: "iss/sub" } }), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.principal"], { string_match: { exact: "iss/other" } }), { metadata: md }), false);
  assert.equal(allowed(m(["request.auth.audiences"], list("b")), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.audiences"], list("c")), { metadata: md }), false);
  assert.equal(allowed(m(["request.auth.claims", "groups"], list("dev")), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.claims", "realm", "roles"], list("admin")), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.claims", "groups", "deeper"], list("dev")), { metadata: md }), false);
  assert.equal(allowed(m(["request.auth.claims", "n"], { double_match: { exact: 3 } }), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.claims", "ok"], { bool_match: true }), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.principal"], { present_match: true })), false, "no JWT: no metadata");
  assert.equal(allowed(m(["request.auth.principal"], { present_match: true }, true)), true);
  assert.equal(allowed(m(["request.auth.principal"], { or_match: { value_matchers: [{ string_match: { exact: "x" } }, { string_match: { prefix: "iss/" } }] } }), { metadata: md }), true);
  assert.equal(allowed(m(["request.auth.principal"], { null_match: {} })), true);
});

test("and / or / not / any compose as Envoy's sets", () => {
  const get = { header: { name: ":method", string_match: { exact: "GET" } } };
  const admin = { url_path: { path: { prefix: "/admin" } } };
  const notAdminGet = allowOnly({ and_rules: { rules: [get, { not_rule: admin }] } });
  assert.equal(allowed(notAdminGet), true);
  assert.equal(allowed(notAdminGet, { path: "/admin/x" }), false);
  assert.equal(allowed(notAdminGet, { method: "PUT" }), false);
  const either = allowOnly({ or_rules: { rules: [admin, { destination_port: 1 }] } });
  assert.equal(allowed(either, { path: "/admin" }), true);
  assert.equal(allowed(either), false);
  const principals = allowOnly({ any: true }, { and_ids: { ids: [{ not_id: { any: true } }] } });
  assert.equal(allowed(principals), false);
  const orIds = allowOnly({ any: true }, { or_ids: { ids: [{ header: { name: "x-a", present_match: true } }, { url_path: { path: { exact: "/api/items" } } }] } });
  assert.equal(allowed(orIds), true);
});

test("actions: ALLOW needs a match, DENY denies on a match, LOG only records; first denial wins", () => {
  const policy = (path: string) => ({ permissions: [{ url_path: { path: { prefix: path } } }], principals: [{ any: true }] });
  const audit = compileRbac({ rules: { action: "LOG", policies: { "audit-all": policy("/") } } }, "a");
  const deny = compileRbac({ rules: { action: "DENY", policies: { "z-deny": policy("/admin"), "a-deny": policy("/admin/secret") } } }, "d");
  const allow = compileRbac({ rules: { policies: { "allow-api": policy("/api"), "allow-admin": policy("/admin") } } }, "l");
  const filters = [audit, deny, allow];
  assert.deepEqual(evaluateRbac(filters, request()), { allowed: true, audited: ["audit-all"] });
  const secret = evaluateRbac(filters, request({ path: "/admin/secret" }));
  assert.deepEqual(secret, { allowed: false, policy: "a-deny", reason: "denied_by_policy", audited: ["audit-all"] }, "policies are tried in name order");
  assert.equal(rbacDenialDetails(secret), "rbac_access_denied_matched_policy[a-deny]");
  const other = evaluateRbac([deny, allow], request({ path: "/other" }));
  assert.deepEqual(other, { allowed: false, reason: "no_allow_policy_matched" });
  assert.equal(rbacDenialDetails(other), "rbac_access_denied_matched_policy[none]");
  assert.equal(evaluateRbac([], request()).allowed, true);
  assert.equal(evaluateRbac([compileRbac({ rules: {} }, "e")], request()).allowed, false, "ALLOW without policies denies all");
  assert.equal(evaluateRbac([compileRbac({ rules: { action: "DENY" } }, "e")], request()).allowed, true);
  assert.equal(evaluateRbac([compileRbac({}, "e")], request()).allowed, true, "no rules: nothing enforced");
});

test("shadow rules are reported, never enforced", () => {
  const f = compileRbac({
    shadow_rules: { action: "DENY", policies: { dry: { permissions: [{ any: true }], principals: [{ any: true }] } } },
    shadow_rules_stat_prefix: "istio_dry_run_deny_",
  }, "s");
  assert.deepEqual(evaluateRbac([f], request()), { allowed: true, shadow: [{ prefix: "istio_dry_run_deny_", allowed: false, policy: "dry" }] });
});

test("configs the proxy cannot honour are refused with the field path", () => {
  const bad = (cfg: unknown, field: RegExp, reason: RegExp) => {
    assert.throws(() => compileRbac(cfg, "hcm.http_filters[0].typed_config"), (err: unknown) => {
      assert.ok(err instanceof ConfigInvalid);
      assert.match(err.field, field);
      assert.match(err.message, reason);
      return true;
    });
  };
  const withPolicy = (p: unknown) => ({ rules: { action: "DENY", policies: { p } } });
  bad(withPolicy({ permissions: [{ any: true }], principals: [{ filter_state: { key: "k" } }] }), /principals\[0\]\.filter_state$/, /not supported/);
  bad(withPolicy({ permissions: [{ uri_template: {} }], principals: [{ any: true }] }), /permissions\[0\]\.uri_template$/, /not supported/);
  bad(withPolicy({ permissions: [{ any: true }], principals: [{ any: true }], condition: {} }), /\.condition$/, /CEL/);
  bad(withPolicy({ permissions: [], principals: [{ any: true }] }), /\.permissions$/, /at least one/);
  bad(withPolicy({ permissions: [{ any: true, destination_port: 1 }], principals: [{ any: true }] }), /permissions\[0\]$/, /sets both/);
  bad(withPolicy({ permissions: [{ and_rules: { rules: [{ destination_ip: { address_prefix: "10.0.0.300" } }] } }], principals: [{ any: true }] }), /and_rules\.rules\[0\]\.destination_ip\.address_prefix$/, /not an IPv4/);
  bad(withPolicy({ permissions: [{ header: { name: "x", string_match: { safe_regex: { regex: "(" } } } }], principals: [{ any: true }] }), /header\.string_match\.safe_regex\.regex$/, /invalid regex/);
  bad({ rules: { action: "MAYBE" } }, /rules\.action$/, /not one of/);
  bad({ matcher: {} }, /\.matcher$/, /matcher-tree/);
  bad({ "@type": "type.googleapis.com/other" }, /@type/, /expected/);
});
