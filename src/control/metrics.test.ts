import { test } from "node:test";
import assert from "node:assert/strict";
import { ControlMetrics, xdsTypeLabel, type MetricsSources } from "./metrics.ts";
import type { ObjectStatus } from "../config/store.ts";
import { emptyStats, type AdsStats } from "../xds/sync-status.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { AdsServer } from "../xds/server.ts";
import { AdsClient } from "../xds/client.ts";
import { rdsListener, simpleRoute, testNode, waitFor } from "../xds/ads-test-kit.ts";
import type { ProxyNode } from "../xds/node.ts";

/** Every line is HELP, TYPE or `name{labels} value`; each family's TYPE comes before its samples. */
function assertValidExposition(text: string): void {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.e+-]+)$/;
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      assert.match(type, /^(counter|gauge|histogram)$/, line);
      assert.ok(!typed.has(name), `one TYPE line per family: ${name}`);
      typed.add(name);
      continue;
    }
    const m = sample.exec(line);
    assert.ok(m, `line is a valid sample: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(m[1]) || typed.has(family), `sample after its TYPE line: ${line}`);
  }
}

/** The value of one series, found by its exact name and label string. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function status(name: string, state: ObjectStatus["state"]): ObjectStatus {
  return { key: `VirtualService/default/${name}` as ObjectStatus["key"], kind: "VirtualService", namespace: "default", name, file: "vs.yaml", line: 1, state, errors: [] };
}

function sources(over: { stats?: Partial<AdsStats>; nodes?: Partial<ProxyNode>[]; objects?: ObjectStatus[] } = {}): MetricsSources {
  return {
    xds: {
      stats: () => ({ ...emptyStats(), ...over.stats }),
      connections: () => (over.nodes ?? []).map((n, i) => ({ node: testNode(`p${i}`, n) })),
    },
    config: {
      version: 7,
      status: () => over.objects ?? [],
      fileErrors: () => [
        { file: "bad.yaml", line: 3, column: 1, field: "", message: "bad indentation", severity: "error" },
        { file: "other.yaml", line: 1, column: 1, field: "kind", message: "kind Foo is ignored", severity: "warning" },
      ],
    },
    services: () => 4,
  };
}

test("type URLs get istiod's short names", () => {
  assert.equal(xdsTypeLabel(TYPE.listener), "lds");
  assert.equal(xdsTypeLabel(TYPE.route), "rds");
  assert.equal(xdsTypeLabel(TYPE.cluster), "cds");
  assert.equal(xdsTypeLabel(TYPE.endpoint), "eds");
  assert.equal(xdsTypeLabel(TYPE.secret), "secret");
});

test("the page is valid exposition text with istiod's names, counters read from the stats", () => {
  const m = new ControlMetrics();
  const text = m.render(sources({
    stats: { pushesByType: { [TYPE.listener]: 3, [TYPE.cluster]: 2, [TYPE.endpoint]: 5 }, generationErrors: 1, staleNonces: 2, badRequests: 4, pushRounds: 6 },
    nodes: [{ proxyVersion: "mizzen-0.1.0" }, { proxyVersion: "mizzen-0.1.0" }, {}],
    objects: [status("a", "accepted"), status("b", "accepted"), status("c", "rejected-kept-last-good"), status("d", "rejected")],
  }));
  assertValidExposition(text);
  assert.match(text, /^# TYPE pilot_xds gauge$/m);
  assert.equal(value(text, 'pilot_xds{version="mizzen-0.1.0"}'), 2);
  assert.equal(value(text, 'pilot_xds{version="unknown"}'), 1);
  assert.equal(value(text, 'pilot_xds_pushes{type="lds"}'), 3);
  assert.equal(value(text, 'pilot_xds_pushes{type="cds"}'), 2);
  assert.equal(value(text, 'pilot_xds_pushes{type="eds"}'), 5);
  assert.equal(value(text, 'pilot_xds_pushes{type="rds"}'), undefined, "no series for a type never sent");
  assert.equal(value(text, "pilot_total_xds_internal_errors"), 1);
  assert.equal(value(text, "pilot_xds_expired_nonce"), 2);
  assert.equal(value(text, "pilot_xds_bad_requests"), 4);
  assert.equal(value(text, "pilot_push_rounds"), 6);
  assert.equal(value(text, "pilot_services"), 4);
  assert.equal(value(text, 'mizzen_config_objects{state="accepted"}'), 2);
  assert.equal(value(text, 'mizzen_config_objects{state="rejected"}'), 1);
  assert.equal(value(text, 'mizzen_config_objects{state="rejected-kept-last-good"}'), 1);
  assert.equal(value(text, 'mizzen_config_rejected{kind="VirtualService",namespace="default",name="c",state="rejected-kept-last-good"}'), 1);
  assert.equal(value(text, 'mizzen_config_rejected{kind="VirtualService",namespace="default",name="a",state="accepted"}'), undefined);
  assert.equal(value(text, "mizzen_config_file_errors"), 1);
  assert.equal(value(text, "mizzen_config_version"), 7);
  assert.ok((value(text, "process_resident_memory_bytes") ?? 0) > 0);
});

test("with nothing connected pilot_xds reads 0 and every config state is present", () => {
  const text = new ControlMetrics().render(sources());
  assertValidExposition(text);
  assert.equal(value(text, "pilot_xds"), 0);
  for (const s of ["accepted", "rejected", "rejected-kept-last-good"]) assert.equal(value(text, `mizzen_config_objects{state="${s}"}`), 0);
  // Empty histograms still render their buckets, so rate() queries find a series.
  assert.equal(value(text, 'pilot_proxy_convergence_time_bucket{le="+Inf"}'), 0);
  assert.equal(value(text, "pilot_proxy_convergence_time_count"), 0);
});

test("observer hooks fill the push-time and convergence histograms and the NACKs by type", () => {
  const m = new ControlMetrics();
  m.observer.sent!(TYPE.cluster, 0.004);
  m.observer.sent!(TYPE.cluster, 0.5);
  m.observer.sent!(TYPE.route, 0.002);
  m.observer.nacked!(TYPE.listener);
  m.observer.nacked!(TYPE.listener);
  m.observer.converged!(0.2);
  m.observer.converged!(4);
  const text = m.render(sources());
  assertValidExposition(text);
  assert.match(text, /^# TYPE pilot_xds_push_time histogram$/m);
  assert.equal(value(text, 'pilot_xds_push_time_bucket{type="cds",le="0.01"}'), 1);
  assert.equal(value(text, 'pilot_xds_push_time_bucket{type="cds",le="1"}'), 2, "buckets are cumulative");
  assert.equal(value(text, 'pilot_xds_push_time_bucket{type="cds",le="+Inf"}'), 2);
  assert.equal(value(text, 'pilot_xds_push_time_count{type="cds"}'), 2);
  assert.equal(value(text, 'pilot_xds_push_time_sum{type="cds"}'), 0.504);
  assert.equal(value(text, 'pilot_xds_push_time_count{type="rds"}'), 1);
  assert.equal(value(text, 'pilot_total_xds_rejects{type="lds"}'), 2);
  assert.equal(value(text, 'pilot_proxy_convergence_time_bucket{le="0.1"}'), 0);
  assert.equal(value(text, 'pilot_proxy_convergence_time_bucket{le="0.5"}'), 1);
  assert.equal(value(text, 'pilot_proxy_convergence_time_bucket{le="5"}'), 2);
  assert.equal(value(text, "pilot_proxy_convergence_time_count"), 2);
});

test("a real ADS server reports sends, NACKs by type and convergence through the observer", { timeout: 20_000 }, async () => {
  const metrics = new ControlMetrics();
  let listeners = new Map<string, object>([["l1", rdsListener("l1", 8080, "r1")]]);
  const routes = new Map<string, object>([["r1", simpleRoute("r1", "c1")]]);
  const server = new AdsServer({
    resourcesFor: () => new Map([[TYPE.listener, listeners], [TYPE.route, routes]]),
    debounceMs: 10,
    observer: metrics.observer,
  });
  const port = await server.listen("127.0.0.1", 0);
  const client = new AdsClient({
    server: `127.0.0.1:${port}`,
    node: testNode("a"),
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    onResponse: (_type, resources) => (resources.some((r) => r.name === "bad") ? "listener bad: port 1 is privileged" : null),
  });
  const page = () => metrics.render({ xds: server, config: { version: 0, status: () => [], fileErrors: () => [] }, services: () => 0 });
  try {
    client.start();
    client.subscribeAll(TYPE.listener);
    client.subscribe(TYPE.route, ["r1"]);
    await waitFor("LDS and RDS sent", () => value(page(), 'pilot_xds_pushes{type="rds"}') === 1 && value(page(), 'pilot_xds_pushes{type="lds"}') === 1);
    const clients = page().split("\n").filter((l) => l.startsWith("pilot_xds{version="));
    assert.equal(clients.length, 1, "one version: the client's user agent");
    assert.match(clients[0], / 1$/);
    listeners = new Map([...listeners, ["bad", rdsListener("bad", 1, "r1")]]);
    server.push("add a listener the proxy rejects");
    await waitFor("NACK counted", () => value(page(), 'pilot_total_xds_rejects{type="lds"}') === 1);
    const text = page();
    assertValidExposition(text);
    assert.equal(value(text, 'pilot_xds_push_time_count{type="lds"}'), 2);
    assert.equal(value(text, "pilot_proxy_convergence_time_count"), 1, "one push reached one proxy");
  } finally {
    client.close();
    await server.close();
  }
});
