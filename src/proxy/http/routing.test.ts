import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { cla, edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../test-kit.ts";
import type { DataPlane } from "../main.ts";

let a: Upstream, b: Upstream, c: Upstream;
let plane: DataPlane & { port(l: string): number };
let port: number;
const log: string[] = [];

before(async () => {
  [a, b, c] = await Promise.all([startUpstream("a"), startUpstream("b"), startUpstream("c")]);
  plane = await startPlane({
    clusters: [edsCluster("A"), edsCluster("B"), edsCluster("C")],
    endpoints: [cla("A", [{ port: a.port }]), cla("B", [{ port: b.port }]), cla("C", [{ port: c.port }])],
    listeners: [hcmListener("http_proxy", { rds: "http_proxy", accessLog: true })],
    routes: [routeConfig("http_proxy", [
      vhost("reviews", ["reviews:9080", "reviews.default.svc.cluster.local:9080"], [
        { match: { prefix: "/v2", headers: [{ name: "x-user", string_match: { exact: "jason" } }] }, route: { cluster: "B" } },
        { match: { prefix: "/", headers: [{ name: ":method", string_match: { exact: "POST" } }] }, route: { cluster: "C" } },
        { match: { prefix: "/", query_parameters: [{ name: "canary", string_match: { exact: "yes" } }] }, route: { cluster: "B" } },
        { match: { safe_regex: { regex: "/items/[0-9]+" } }, route: { cluster: "C" }, name: "items" },
        { match: { path: "/exact", case_sensitive: { value: false } }, route: { cluster: "B" } },
        { match: { prefix: "/old/" }, route: { cluster: "A", prefix_rewrite: "/new/", host_rewrite_literal: "rewritten.example" } },
        { match: { prefix: "/hdr" }, route: { cluster: "A" }, request_headers_to_add: [{ header: { key: "x-added", value: "1" } }], request_headers_to_remove: ["x-secret"], response_headers_to_add: [{ header: { key: "x-resp", value: "r" } }] },
        { match: { prefix: "/direct" }, direct_response: { status: 418, body: { inline_string: "teapot" } } },
        { match: { prefix: "/moved" }, redirect: { host_redirect: "elsewhere", path_redirect: "/there" } },
        { match: { prefix: "/" }, route: { cluster: "A" }, name: "default" },
      ]),
      vhost("wild-suffix", ["*.example.com"], [toCluster("B")]),
      vhost("wild-prefix", ["api.*"], [toCluster("C")]),
      vhost("catch-all", ["*"], [toCluster("A", "/only-here")]),
    ])],
  }, { accessLog: log });
  port = plane.port("http_proxy");
});

after(async () => {
  await plane.close();
  await Promise.all([a.close(), b.close(), c.close()]);
});

async function who(url: string, o: Parameters<typeof viaProxy>[2] = {}): Promise<string> {
  const r = await viaProxy(port, url, o);
  assert.equal(r.status, 200, `${url}: ${r.status} ${r.body}`);
  return JSON.parse(r.body).id;
}

test("virtual host by domain: exact, suffix wildcard, prefix wildcard, catch-all; case-insensitive", async () => {
  assert.equal(await who("http://reviews:9080/"), "a");
  assert.equal(await who("http://REVIEWS:9080/"), "a");
  assert.equal(await who("http://x.example.com/"), "b");
  assert.equal(await who("http://api.internal:80/"), "c");
  assert.equal(await who("http://other/only-here"), "a");
  // Port matters: "reviews" without port is not "reviews:9080", so it falls to the catch-all.
  const r = await viaProxy(port, "http://reviews/anything");
  assert.equal(r.status, 404);
});

test("routes: header, method, query, regex, exact path (case-insensitive), first match wins", async () => {
  assert.equal(await who("http://reviews:9080/v2/x", { headers: { "x-user": "jason" } }), "b");
  assert.equal(await who("http://reviews:9080/v2/x", { headers: { "x-user": "other" } }), "a");
  assert.equal(await who("http://reviews:9080/x", { method: "POST", body: "hi" }), "c");
  assert.equal(await who("http://reviews:9080/x?canary=yes"), "b");
  assert.equal(await who("http://reviews:9080/x?canary=no"), "a");
  assert.equal(await who("http://reviews:9080/items/42"), "c");
  assert.equal(await who("http://reviews:9080/items/42/more"), "a"); // regex is a full match
  assert.equal(await who("http://reviews:9080/EXACT"), "b");
});

test("origin-form requests use the Host header", async () => {
  const r = await new Promise<number>((resolve, reject) => {
    import("node:http").then(({ request }) => {
      const req = request({ host: "127.0.0.1", port, path: "/items/7", headers: { host: "reviews:9080" }, agent: false }, (res) => {
        res.resume();
        resolve(Number(res.headers["x-upstream"] === "c"));
      });
      req.on("error", reject);
      req.end();
    }, reject);
  });
  assert.equal(r, 1);
});

test("rewrites, header mutations, forwarding headers, hop-by-hop removal", async () => {
  const r = await viaProxy(port, "http://reviews:9080/old/path?q=1", { headers: { connection: "keep-alive, x-hop", "x-hop": "drop me", "proxy-authorization": "secret", te: "trailers" } });
  const got = JSON.parse(r.body);
  assert.equal(got.url, "/new/path?q=1");
  assert.equal(got.headers.host, "rewritten.example");
  assert.equal(got.headers["x-hop"], undefined);
  assert.equal(got.headers["proxy-authorization"], undefined);
  assert.equal(got.headers.te, undefined);
  assert.equal(got.headers["x-forwarded-proto"], "http");
  assert.match(got.headers["x-request-id"], /^[0-9a-f-]{36}$/);
  assert.equal(got.headers["x-forwarded-for"], undefined, "outbound listener does not append XFF");
  assert.ok(Number(r.headers["x-envoy-upstream-service-time"]) >= 0);

  const h = await viaProxy(port, "http://reviews:9080/hdr", { headers: { "x-secret": "s", "x-request-id": "keep-me" } });
  const hb = JSON.parse(h.body);
  assert.equal(hb.headers["x-added"], "1");
  assert.equal(hb.headers["x-secret"], undefined);
  assert.equal(hb.headers["x-request-id"], "keep-me");
  assert.equal(h.headers["x-resp"], "r");
});

test("direct response and redirect", async () => {
  const d = await viaProxy(port, "http://reviews:9080/direct");
  assert.equal(d.status, 418);
  assert.equal(d.body, "teapot");
  const m = await viaProxy(port, "http://reviews:9080/moved");
  assert.equal(m.status, 301);
  assert.equal(m.headers.location, "http://elsewhere/there");
});

test("no route: 404 with flag NR in the access log", async () => {
  const r = await viaProxy(port, "http://unknown:1234/nothing");
  assert.equal(r.status, 404);
  const line = log.find((l) => l.includes("/nothing"));
  assert.ok(line, "access log line written");
  assert.match(line!, /" 404 NR route_not_found /);
});

test("access log line follows Istio's default format", async () => {
  log.length = 0;
  await viaProxy(port, "http://reviews:9080/items/9?x=1", { headers: { "user-agent": "test-agent", "x-request-id": "rid-1" } });
  assert.equal(log.length, 1);
  const re = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET \/items\/9\?x=1 HTTP\/1\.1" 200 - via_upstream - "-" 0 \d+ \d+ \d+ "-" "test-agent" "rid-1" "reviews:9080" "127\.0\.0\.1:\d+" C 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - items\n$/;
  assert.match(log[0], re);
});
