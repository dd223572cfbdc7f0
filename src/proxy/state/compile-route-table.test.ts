import { test } from "node:test";
import assert from "node:assert/strict";
import { compileRouteTable } from "./compile-route-table.ts";
import { compileStringMatcher, compileFullRegex, ConfigInvalid } from "./string-match.ts";
import { routeConfig, toCluster, vhost } from "../test-kit.ts";
import type { MatchInput } from "./types.ts";

const table = compileRouteTable(routeConfig("t", [
  vhost("exact", ["foo.bar.com", "foo.bar.com:8080"], [toCluster("e")]),
  vhost("short-suffix", ["*.com"], [toCluster("s1")]),
  vhost("long-suffix", ["*.bar.com"], [toCluster("s2")]),
  vhost("prefix", ["foo.*"], [toCluster("p")]),
  vhost("any", ["*"], [toCluster("a")]),
]));

test("virtual host search order: exact, longest suffix, prefix, any", () => {
  const name = (h: string) => table.findVirtualHost(h)?.name;
  assert.equal(name("foo.bar.com"), "exact");
  assert.equal(name("Foo.Bar.Com:8080"), "exact");
  assert.equal(name("x.bar.com"), "long-suffix");
  assert.equal(name("x.baz.com"), "short-suffix");
  assert.equal(name("foo.org"), "prefix");
  assert.equal(name("elsewhere"), "any");
  assert.equal(name("x.baz.com"), "short-suffix", "cached answer is the same");
});

test("a table without a catch-all finds nothing for unknown hosts", () => {
  const t = compileRouteTable(routeConfig("t", [vhost("only", ["a:1"], [toCluster("c")])]));
  assert.equal(t.findVirtualHost("b:1"), undefined);
  assert.equal(t.findVirtualHost("b:1"), undefined);
});

test("string matchers", () => {
  assert.equal(compileStringMatcher({ exact: "Ab", ignore_case: true }, "f")("aB"), true);
  assert.equal(compileStringMatcher({ suffix: ".js" }, "f")("x.js"), true);
  assert.equal(compileStringMatcher({ contains: "mid" }, "f")("amidb"), true);
  assert.equal(compileStringMatcher({ safe_regex: { regex: "v[12]" } }, "f")("v12"), false);
  assert.equal(compileFullRegex("(?i)abc", "f").test("ABC"), true);
  assert.throws(() => compileStringMatcher({}, "f"), ConfigInvalid);
});

test("prefix match honours case_sensitive=false, headers invert and presence", () => {
  const t = compileRouteTable(routeConfig("t", [vhost("v", ["*"], [
    { match: { prefix: "/API", case_sensitive: { value: false }, headers: [{ name: "x-debug", present_match: true, invert_match: true }] }, route: { cluster: "c" } },
  ])]));
  const r = t.findVirtualHost("h")!.routes[0];
  const input = (path: string, headers: Record<string, string>): MatchInput => ({ method: "GET", authority: "h", path, query: "", headers, queryParams: undefined });
  assert.equal(r.matches(input("/api/x", {})), true);
  assert.equal(r.matches(input("/api/x", { "x-debug": "1" })), false);
  assert.equal(r.matches(input("/other", {})), false);
});
