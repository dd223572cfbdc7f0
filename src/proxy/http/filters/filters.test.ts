// The fault and CORS filters as compiled closures: injected randomness, Envoy's decisions,
// and the configs the proxy refuses (so the state layer NACKs them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { compileFault, runFault, FAULT_TYPE_URL } from "./fault.ts";
import { grpcStatusOf } from "../local-reply.ts";
import { compileCorsPolicy, evaluateCors, CORS_POLICY_TYPE_URL } from "./cors.ts";
import { compileRouteFilterConfigs } from "./http-filters.ts";
import { RequestLog } from "../request-log.ts";
import { compileRouteTable } from "../../state/compile-route-table.ts";
import { compileListener } from "../../state/compile-listener.ts";
import { hcmListener } from "../../test-kit.ts";

/** Returns the given values in order; fails the test when asked for more. */
function sequence(...values: number[]): () => number {
  return () => {
    const v = values.shift();
    if (v === undefined) throw new Error("random() called more often than expected");
    return v;
  };
}
const never = (): number => {
  throw new Error("random() must not be drawn");
};

test("fault fractions: drawn against the injected random; 0% and 100% draw nothing", () => {
  const f = compileFault({ abort: { http_status: 503, percentage: { numerator: 25, denominator: "HUNDRED" } } }, "f")!;
  assert.deepEqual(f.pickAbort(sequence(0.2)), { httpStatus: 503, grpcStatus: undefined });
  assert.equal(f.pickAbort(sequence(0.3)), undefined);
  assert.equal(f.pickDelay(never), 0, "no delay configured");
  const all = compileFault({ delay: { fixed_delay: { seconds: 2 }, percentage: { numerator: 1_000_000, denominator: "MILLION" } } }, "f")!;
  assert.equal(all.pickDelay(never), 2000);
  const none = compileFault({ delay: { fixed_delay: { seconds: 2 } } }, "f")!;
  assert.equal(none.pickDelay(never), 0, "no percentage means no request (proto default 0)");
  const grpc = compileFault({ abort: { grpc_status: 14, percentage: { numerator: 100 } } }, "f")!;
  assert.deepEqual(grpc.pickAbort(never), { httpStatus: 200, grpcStatus: 14 });
  assert.equal(compileFault({ "@type": FAULT_TYPE_URL }, "f"), undefined, "the filter's own empty config injects nothing");
  assert.equal(grpcStatusOf(503), 14);
  assert.equal(grpcStatusOf(404), 12);
  assert.equal(grpcStatusOf(500), 2);
});

function fakeExchange(): { res: ServerResponse & EventEmitter; log: RequestLog } {
  const res = Object.assign(new EventEmitter(), { destroyed: false, headersSent: false }) as unknown as ServerResponse & EventEmitter;
  return { res, log: new RequestLog() };
}

test("runFault: a missed delay continues at once; a hit waits, flags DI, then continues", async () => {
  const f = compileFault({ delay: { fixed_delay: { nanos: 20_000_000 }, percentage: { numerator: 50 } } }, "f")!;
  const a = fakeExchange();
  let went = 0;
  runFault(f, a.res, a.log, sequence(0.9), () => went++);
  assert.equal(went, 1);
  assert.equal(a.log.flags, "");

  const b = fakeExchange();
  const done = new Promise<void>((resolve) => runFault(f, b.res, b.log, sequence(0.1), resolve));
  assert.equal(b.log.flags, "DI");
  await done;
});

test("runFault: a client that leaves during the delay cancels the request", async () => {
  const f = compileFault({ delay: { fixed_delay: { nanos: 30_000_000 }, percentage: { numerator: 100 } } }, "f")!;
  const x = fakeExchange();
  let went = false;
  runFault(f, x.res, x.log, never, () => (went = true));
  x.res.emit("close");
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(went, false);
});

test("fault configs the proxy cannot honour are refused with the field path", () => {
  assert.throws(() => compileFault({ abort: { header_abort: {} } }, "r.f"), /r\.f\.abort\.header_abort/);
  assert.throws(() => compileFault({ abort: { http_status: 700 } }, "r.f"), /r\.f\.abort\.http_status: 700/);
  assert.throws(() => compileFault({ abort: { http_status: 503 }, headers: [{ name: "x" }] }, "r.f"), /r\.f\.headers/);
  assert.throws(() => compileFault({ delay: { percentage: { numerator: 1 } } }, "r.f"), /fixed_delay/);
  assert.throws(() => compileFault({ abort: { http_status: 503, percentage: { numerator: 1, denominator: "BILLION" } } }, "r.f"), /denominator/);
});

test("per-filter configs: known types compile, unknown ones are refused unless optional", () => {
  const ok = compileRouteFilterConfigs({ "envoy.filters.http.fault": { "@type": FAULT_TYPE_URL, abort: { http_status: 503, percentage: { numerator: 100 } } } }, "route");
  assert.ok(ok.fault);
  assert.equal(ok.cors, undefined);
  assert.throws(() => compileRouteFilterConfigs({ "envoy.filters.http.rbac": { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute" } }, "route"), /route\["envoy\.filters\.http\.rbac"\].*not supported/);
  const optional = compileRouteFilterConfigs({ x: { "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", is_optional: true, config: { "@type": "type.googleapis.com/x.Y" } } }, "route");
  assert.equal(optional.fault, undefined);
});

test("a virtual host's config applies to its routes unless a route sets its own", () => {
  const table = compileRouteTable({
    name: "t",
    virtual_hosts: [{
      name: "vh",
      domains: ["*"],
      typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FAULT_TYPE_URL, abort: { http_status: 500, percentage: { numerator: 100 } } } },
      routes: [
        { name: "own", match: { prefix: "/own" }, route: { cluster: "c" }, typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FAULT_TYPE_URL, abort: { http_status: 418, percentage: { numerator: 100 } } } } },
        { name: "inherits", match: { prefix: "/" }, route: { cluster: "c" } },
      ],
    }],
  });
  const [own, inherits] = table.findVirtualHost("x")!.routes;
  assert.equal(own.filters.fault?.pickAbort(never)?.httpStatus, 418);
  assert.equal(inherits.filters.fault?.pickAbort(never)?.httpStatus, 500);
});

test("the listener compiler accepts the fault and cors filters and still refuses other filters", () => {
  const l = hcmListener("l", { rds: "r" });
  const filters = l.filter_chains![0].filters[0].typed_config.http_filters;
  filters.unshift({ name: "envoy.filters.http.fault", typed_config: { "@type": FAULT_TYPE_URL } }, { name: "envoy.filters.http.cors", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" } });
  const hcm = compileListener(l)!.filterChains[0].hcm!;
  assert.deepEqual(hcm.filters, { fault: true, cors: true, defaultFault: undefined });
  filters.unshift({ name: "envoy.filters.http.ext_authz", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz" } });
  assert.throws(() => compileListener(l), /ext_authz" is not supported/);
});

const policy = (extra: Record<string, unknown> = {}) => compileCorsPolicy({
  "@type": CORS_POLICY_TYPE_URL,
  allow_origin_string_match: [{ exact: "https://a.test" }, { safe_regex: { regex: "https://[a-z]+\\.b\\.test" } }],
  allow_methods: "*",
  allow_headers: "*",
  ...extra,
}, "cors");

test("CORS decisions follow Envoy: preflight, wildcard echo, unmatched preflights, actual requests", () => {
  const p = policy();
  const pre = evaluateCors(p, "OPTIONS", { origin: "https://x.b.test", "access-control-request-method": "PUT", "access-control-request-headers": "x-a,x-b" }, never);
  assert.deepEqual(pre, { kind: "preflight", headers: { "access-control-allow-origin": "https://x.b.test", "access-control-allow-methods": "PUT", "access-control-allow-headers": "x-a,x-b" } });
  assert.equal(evaluateCors(p, "OPTIONS", { origin: "https://c.test", "access-control-request-method": "PUT" }, never), undefined, "forwarded by default");
  const strict = policy({ forward_not_matching_preflights: {} }); // BoolValue false decodes as {}
  assert.deepEqual(evaluateCors(strict, "OPTIONS", { origin: "https://c.test", "access-control-request-method": "PUT" }, never)?.kind, "preflight");
  assert.equal(evaluateCors(strict, "OPTIONS", { origin: "https://c.test", "access-control-request-method": "PUT" }, never)?.headers["access-control-allow-origin"], undefined);
  assert.equal(evaluateCors(p, "OPTIONS", { origin: "https://a.test" }, never)?.kind, "response", "OPTIONS without Access-Control-Request-Method is an ordinary request");
  assert.deepEqual(evaluateCors(p, "GET", { origin: "https://a.test" }, never), { kind: "response", headers: { "access-control-allow-origin": "https://a.test" } });
  assert.equal(evaluateCors(p, "GET", {}, never), undefined, "no Origin, no CORS");
  const half = policy({ filter_enabled: { default_value: { numerator: 50 } } });
  assert.equal(evaluateCors(half, "GET", { origin: "https://a.test" }, sequence(0.7)), undefined, "not enabled for this request");
  assert.equal(evaluateCors(half, "GET", { origin: "https://a.test" }, sequence(0.2))?.kind, "response");
  const any = compileCorsPolicy({ allow_origin_string_match: [{ exact: "*" }] }, "cors");
  assert.equal(evaluateCors(any, "GET", { origin: "https://whoever.test" }, never)?.headers["access-control-allow-origin"], "https://whoever.test");
});
