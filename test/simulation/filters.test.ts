// A VirtualService with fault and corsPolicy, as a user writes it, through the whole pipeline
// (YAML, translators, the wire, the proxy's state layer): the proxy must accept it and its
// compiled routes must carry the filters that the request path runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bookinfoProxies } from "../../src/registry/fixtures.ts";
import { selectFilterChain } from "../../src/proxy/state/compile-listener.ts";
import { findRoute } from "../../src/proxy/http/request-handler.ts";
import { evaluateCors } from "../../src/proxy/http/filters/cors.ts";
import type { MatchInput } from "../../src/proxy/state/types.ts";
import { simulate, seededRandom } from "./simulate.ts";
import { bookinfo } from "./bookinfo.ts";

const RATINGS_VS = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - name: jason-faults
    match:
    - headers:
        end-user:
          exact: jason
    fault:
      delay:
        fixedDelay: 7s
        percentage:
          value: 100
      abort:
        httpStatus: 500
        percentage:
          value: 50
    route:
    - destination:
        host: ratings
  - name: browser
    corsPolicy:
      allowOrigins:
      - exact: https://bookinfo.example
      - regex: "https://.*\\\\.bookinfo\\\\.example"
      allowMethods:
      - GET
      - POST
      allowHeaders:
      - content-type
      maxAge: 1h
      allowCredentials: true
    route:
    - destination:
        host: ratings
`;

const input = (headers: Record<string, string>, method = "GET"): MatchInput => ({ method, authority: "ratings:9080", path: "/ratings/0", query: "", headers, queryParams: undefined });

test("fault and corsPolicy compile through the real proxy state and drive its filters", () => {
  const sim = simulate({ proxies: bookinfoProxies(), proxy: "productpage-v1", config: bookinfo(RATINGS_VS) });
  assert.deepEqual(sim.warnings.filter((w) => w.severity === "error"), []);
  const listener = sim.snapshot.listeners.get("http_proxy")!;
  const hcm = selectFilterChain(listener, listener.port)!.hcm!;
  assert.equal(hcm.filters.fault, true, "the sidecar's HCM runs the fault filter");
  assert.equal(hcm.filters.cors, true, "and the CORS filter");

  const jason = findRoute(hcm, input({ "end-user": "jason" })).route!;
  assert.equal(jason.name, "jason-faults");
  const fault = jason.filters.fault!;
  assert.equal(fault.pickDelay(() => 0.99), 7000, "100% delayed by fixedDelay");
  // 50% abort with a seeded sequence: some abort with 500, some go through.
  const random = seededRandom(7);
  const outcomes = Array.from({ length: 200 }, () => fault.pickAbort(random)?.httpStatus ?? 0);
  const aborted = outcomes.filter((s) => s === 500).length;
  assert.ok(aborted > 60 && aborted < 140, `aborted ${aborted} of 200`);
  assert.equal(outcomes.filter((s) => s !== 500 && s !== 0).length, 0);
  assert.equal(jason.filters.cors, undefined);

  const browser = findRoute(hcm, input({})).route!;
  assert.equal(browser.name, "browser");
  assert.equal(browser.filters.fault, undefined, "only the jason rule injects faults");
  const cors = browser.filters.cors!;
  const never = () => {
    throw new Error("CORS at 100% draws no random number");
  };
  const pre = evaluateCors(cors, "OPTIONS", { origin: "https://shop.bookinfo.example", "access-control-request-method": "POST" }, never);
  assert.deepEqual(pre, {
    kind: "preflight",
    headers: {
      "access-control-allow-origin": "https://shop.bookinfo.example",
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET,POST",
      "access-control-allow-headers": "content-type",
      "access-control-max-age": "3600",
    },
  });
  assert.equal(evaluateCors(cors, "OPTIONS", { origin: "https://elsewhere.example", "access-control-request-method": "POST" }, never), undefined, "forwarded: unmatchedPreflights defaults to FORWARD");
  assert.equal(evaluateCors(cors, "GET", { origin: "https://bookinfo.example" }, never)?.headers["access-control-allow-origin"], "https://bookinfo.example");
});
