// uriRegexRewrite and redirect derivePort, from Istio YAML through the translator, the wire and
// the proxy's compiled route: the rewritten path and the Location header the proxy would send.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies } from "../../src/registry/fixtures.ts";
import type { CompiledRoute, MatchInput } from "../../src/proxy/state/types.ts";
import { simulate } from "./simulate.ts";
import { bookinfo } from "./bookinfo.ts";

const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: versioned
    match: [{ uri: { prefix: /api/ } }]
    rewrite: { uriRegexRewrite: { match: "^/api/v(\\\\d+)/(.*)$", rewrite: "/\\\\2?version=\\\\1" } }
    route: [{ destination: { host: reviews } }]
  - name: to-request-port
    match: [{ uri: { prefix: /old } }]
    redirect: { uri: /new, derivePort: FROM_REQUEST_PORT }
  - name: to-https-default
    match: [{ uri: { prefix: /secure } }]
    redirect: { scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, authority: shop.example.com }
`) });

function route(name: string): CompiledRoute {
  for (const table of sim.snapshot.routeTables.values()) {
    const vh = table.findVirtualHost("reviews:9080");
    const r = vh?.routes.find((x) => x.name === name);
    if (r) return r;
  }
  throw new Error(`no route ${name}`);
}

const input = (path: string, authority = "reviews:9080"): MatchInput => ({ method: "GET", authority, path, query: "", headers: {}, queryParams: undefined });

test("uriRegexRewrite replaces the match with the groups the rewrite names", () => {
  assert.equal(sim.request({ url: "http://reviews:9080/api/v2/reviews/0" }).routeName, "versioned");
  const action = route("versioned").action;
  assert.equal(action.kind, "route");
  if (action.kind !== "route") return;
  assert.equal(action.rewritePath?.("/api/v2/reviews/0"), "/reviews/0?version=2");
  assert.equal(action.rewritePath?.("/api/x"), "/api/x", "no match, no change");
});

test("derivePort FROM_REQUEST_PORT keeps the service port; FROM_PROTOCOL_DEFAULT drops it for the scheme's default", () => {
  const a = route("to-request-port").action;
  const b = route("to-https-default").action;
  assert.ok(a.kind === "redirect" && b.kind === "redirect");
  if (a.kind !== "redirect" || b.kind !== "redirect") return;
  assert.equal(a.location(input("/old")), "http://reviews:9080/new");
  assert.equal(b.location(input("/secure/cart")), "https://shop.example.com/secure/cart");
});
