// istio.stats (stats.PluginConfig) compiled by the proxy: both encodings Istio uses, per-metric
// rules in order, tag value forms, and refusals with the field that is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toStruct } from "../../xds/struct.ts";
import { ConfigInvalid } from "../state/string-match.ts";
import { compileStatsConfig, isStatsFilter, parseTagValue, STATS_CONFIG_TYPE_URL } from "./stats-config.ts";

const typedStruct = (value: Record<string, unknown>) => ({ "@type": "type.googleapis.com/udpa.type.v1.TypedStruct", type_url: STATS_CONFIG_TYPE_URL, value: toStruct(value) });

test("the filter is recognised by its TypedStruct type_url, its own type, or its name", () => {
  assert.equal(isStatsFilter({ name: "x", typed_config: typedStruct({}) }), true);
  assert.equal(isStatsFilter({ name: "x", typed_config: { "@type": STATS_CONFIG_TYPE_URL } }), true);
  assert.equal(isStatsFilter({ name: "istio.stats" }), true);
  assert.equal(isStatsFilter({ name: "x", typed_config: { "@type": "type.googleapis.com/udpa.type.v1.TypedStruct", type_url: "type.googleapis.com/other.Config" } }), false);
  assert.equal(isStatsFilter({ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }), false);
});

test("tag values: quoted literals, request headers and three request fields; nothing else", () => {
  assert.deepEqual(parseTagValue("'v1'"), { kind: "literal", value: "v1" });
  assert.deepEqual(parseTagValue('"blue green"'), { kind: "literal", value: "blue green" });
  assert.deepEqual(parseTagValue("request.headers['X-Tenant']"), { kind: "header", name: "x-tenant" });
  assert.deepEqual(parseTagValue(' request.headers["user-agent"] '), { kind: "header", name: "user-agent" });
  assert.deepEqual(parseTagValue("request.host"), { kind: "request", field: "host" });
  assert.equal(parseTagValue("v1"), undefined, "an unquoted word is a CEL identifier, not a literal");
  assert.equal(parseTagValue("request.headers['a'] + 'x'"), undefined);
  assert.equal(parseTagValue("upstream_peer.labels['app'].value"), undefined);
});

test("an entry without a name applies to every metric; named entries to theirs, in order", () => {
  const c = compileStatsConfig(typedStruct({
    metrics: [
      { tags_to_remove: ["source_principal"] },
      { name: "requests_total", dimensions: { tenant: "request.headers['x-tenant']", source_principal: "'hidden'" } },
      { name: "tcp_connections_opened_total", drop: true },
    ],
  }), "f");
  assert.equal(c.http[0]!.drop, false);
  assert.deepEqual(c.http[0]!.rules.map((r) => [r.tag, r.remove, r.source?.kind ?? "-"]), [["source_principal", true, "-"], ["source_principal", false, "literal"], ["tenant", false, "header"]]);
  assert.deepEqual(c.http[1]!.rules.map((r) => r.tag), ["source_principal"], "the unnamed entry reaches the duration histogram too");
  assert.equal(c.tcp[2]!.drop, true);
  assert.equal(c.tcpOff, false);
  assert.deepEqual(c.dynamic, [{ kind: "header", name: "x-tenant" }]);
  assert.equal(c.http[0]!.rules[2]!.dynamic, 0);
});

test("one unnamed drop turns a protocol off; equal content gets equal ids, camelCase is read too", () => {
  const off = compileStatsConfig(typedStruct({ metrics: [{ drop: true }] }), "f");
  assert.equal(off.httpOff, true);
  assert.equal(off.tcpOff, true);
  const a = compileStatsConfig(typedStruct({ metrics: [{ name: "request_bytes", tags_to_remove: ["source_app"] }] }), "f");
  const b = compileStatsConfig({ "@type": STATS_CONFIG_TYPE_URL, metrics: [{ name: "request_bytes", tagsToRemove: ["source_app"] }] }, "g");
  assert.equal(a.id, b.id, "the same overrides, whichever encoding, share their series");
  assert.notEqual(a.id, off.id);
  const empty = compileStatsConfig(typedStruct({}), "f");
  assert.deepEqual([empty.http, empty.tcp, empty.httpOff], [[undefined, undefined, undefined, undefined], [undefined, undefined, undefined, undefined], false]);
});

test("what the proxy cannot honour is refused with the field", () => {
  const refused = (value: Record<string, unknown>, field: RegExp) => {
    assert.throws(() => compileStatsConfig(typedStruct(value), "listener.f"), (e: unknown) => e instanceof ConfigInvalid && field.test(e.field), JSON.stringify(value));
  };
  refused({ metrics: [{ name: "requests_total", dimensions: { x: "upstream_peer.app" } }] }, /metrics\[0\]\.dimensions\.x$/);
  refused({ metrics: [{ name: "my_metric" }] }, /metrics\[0\]\.name$/);
  refused({ metrics: [{ match: "response.code >= 500" }] }, /metrics\[0\]\.match$/);
  refused({ metrics: [{ tags_to_remove: ["not a label"] }] }, /tags_to_remove\[0\]$/);
  refused({ metrics: [{ dimensions: { "bad-name": "'x'" } }] }, /dimensions$/);
  refused({ definitions: [{ name: "custom", value: "1" }] }, /definitions$/);
  refused({ metrics: "all" }, /metrics$/);
  assert.throws(() => compileStatsConfig(undefined, "f"), ConfigInvalid);
});
