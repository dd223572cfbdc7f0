import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError, ConfigObject } from "../api/types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { authorizationFilters, type AuthzOptions } from "./authz.ts";
import type { HttpRbacAny, Permission, Principal, RbacPolicy } from "./authz-types.ts";

const OPTS: AuthzOptions = { rootNamespace: "istio-system", trustDomain: "cluster.local" };
const WORKLOAD = { namespace: "foo", labels: { app: "httpbin", version: "v1" } };

function ap(ns: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): ConfigObject {
  return { kind: "AuthorizationPolicy", apiVersion: "security.istio.io/v1", metadata: { namespace: ns, name, ...(annotations ? { annotations } : {}) }, spec, source: { file: "authz.yaml", line: 1 } };
}

function rbac(filters: ReturnType<typeof authorizationFilters>): HttpRbacAny[] {
  for (const f of filters) assert.equal(f.name, "envoy.filters.http.rbac");
  return filters.map((f) => f.typed_config as unknown as HttpRbacAny);
}

/** The single policy of a single-rule ALLOW/DENY policy named "p" in foo. */
function onlyPolicy(spec: Record<string, unknown>, opts = OPTS): RbacPolicy {
  const [f] = rbac(authorizationFilters([ap("foo", "p", spec)], WORKLOAD, opts));
  const p = f?.rules?.policies["ns[foo]-policy[p]-rule[0]"];
  assert.ok(p, "policy ns[foo]-policy[p]-rule[0] generated");
  return p;
}

test("which policies apply: namespace + selector, root namespace mesh-wide, targetRef ignored", () => {
  const policies = [
    ap("foo", "ns-wide", { rules: [{}] }),
    ap("foo", "selected", { selector: { matchLabels: { app: "httpbin" } }, rules: [{}] }),
    ap("foo", "other-app", { selector: { matchLabels: { app: "ratings" } }, rules: [{}] }),
    ap("bar", "other-ns", { rules: [{}] }),
    ap("istio-system", "mesh", { action: "DENY", rules: [{}] }),
    ap("istio-system", "mesh-selected", { action: "DENY", selector: { matchLabels: { version: "v1" } }, rules: [{}] }),
    ap("istio-system", "mesh-other", { action: "DENY", selector: { matchLabels: { version: "v2" } }, rules: [{}] }),
    ap("foo", "waypoint", { targetRefs: [{ kind: "Service", name: "httpbin" }], rules: [{}] }),
    { ...ap("foo", "not-a-policy", {}), kind: "PeerAuthentication" as const },
  ];
  const [deny, allow] = rbac(authorizationFilters(policies, WORKLOAD, OPTS));
  assert.deepEqual(Object.keys(deny!.rules!.policies), ["ns[istio-system]-policy[mesh]-rule[0]", "ns[istio-system]-policy[mesh-selected]-rule[0]"]);
  assert.deepEqual(Object.keys(allow!.rules!.policies), ["ns[foo]-policy[ns-wide]-rule[0]", "ns[foo]-policy[selected]-rule[0]"]);
  assert.deepEqual(authorizationFilters(policies, { namespace: "baz", labels: {} }, OPTS).length, 1, "only the mesh-wide DENY reaches baz");
  assert.deepEqual(authorizationFilters([], WORKLOAD, OPTS), [], "no policy: no filter");
});

test("filters come in Istio's order AUDIT (LOG), DENY, ALLOW; names are ns[..]-policy[..]-rule[i]", () => {
  const filters = rbac(authorizationFilters([
    ap("foo", "a", { action: "ALLOW", rules: [{}, {}] }),
    ap("foo", "d", { action: "DENY", rules: [{}] }),
    ap("foo", "l", { action: "AUDIT", rules: [{}] }),
  ], WORKLOAD, OPTS));
  assert.deepEqual(filters.map((f) => f.rules?.action), ["LOG", "DENY", "ALLOW"]);
  assert.deepEqual(Object.keys(filters[2]!.rules!.policies), ["ns[foo]-policy[a]-rule[0]", "ns[foo]-policy[a]-rule[1]"]);
  assert.equal(filters[0]!["@type"], "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC");
});

test("no rules matches nothing (ALLOW: allow-nothing; DENY: deny-nothing); an empty rule matches everything", () => {
  const never = { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] };
  assert.deepEqual(onlyPolicy({}), never);
  const [deny] = rbac(authorizationFilters([ap("foo", "p", { action: "DENY" })], WORKLOAD, OPTS));
  assert.deepEqual(deny!.rules, { action: "DENY", policies: { "ns[foo]-policy[p]-rule[0]": never } });
  assert.deepEqual(onlyPolicy({ rules: [{}] }), { permissions: [{ and_rules: { rules: [{ any: true }] } }], principals: [{ and_ids: { ids: [{ any: true }] } }] });
});

function permissionParts(p: RbacPolicy, i = 0): Permission[] {
  return p.permissions[i]!.and_rules!.rules;
}
function principalParts(p: RbacPolicy, i = 0): Principal[] {
  return p.principals[i]!.and_ids!.ids;
}

test("operation fields: hosts (case-insensitive), methods, paths, ports; values OR, not-values NOT(OR)", () => {
  const p = onlyPolicy({ rules: [{ to: [{ operation: {
    hosts: ["www.example.com", "*.example.com", "api.*", "*"], methods: ["GET"], notMethods: ["DELETE"],
    paths: ["/exact", "/prefix/*", "*/suffix", "*", "/v1/{*}/items/{**}"], ports: ["8080"], notPorts: ["9000"],
  } }] }] });
  assert.deepEqual(permissionParts(p), [
    { or_rules: { rules: [
      { header: { name: ":authority", string_match: { exact: "www.example.com", ignore_case: true } } },
      { header: { name: ":authority", string_match: { suffix: ".example.com", ignore_case: true } } },
      { header: { name: ":authority", string_match: { prefix: "api.", ignore_case: true } } },
      { header: { name: ":authority", present_match: true } },
    ] } },
    { or_rules: { rules: [{ header: { name: ":method", string_match: { exact: "GET" } } }] } },
    { not_rule: { or_rules: { rules: [{ header: { name: ":method", string_match: { exact: "DELETE" } } }] } } },
    { or_rules: { rules: [
      { url_path: { path: { exact: "/exact" } } },
      { url_path: { path: { prefix: "/prefix/" } } },
      { url_path: { path: { suffix: "/suffix" } } },
      { url_path: { path: { safe_regex: { regex: ".+" } } } },
      { url_path: { path: { safe_regex: { regex: "/v1/[^/]+/items/.*" } } } },
    ] } },
    { or_rules: { rules: [{ destination_port: 8080 }] } },
    { not_rule: { or_rules: { rules: [{ destination_port: 9000 }] } } },
  ]);
  assert.deepEqual(p.principals, [{ and_ids: { ids: [{ any: true }] } }]);
});

test("source fields: principals (spiffe://, trust domain), request principals, namespaces, service accounts, IP blocks", () => {
  const p = onlyPolicy({ rules: [{ from: [{ source: {
    principals: ["cluster.local/ns/a/sa/b", "*/sa/admin", "prefix-*", "*"],
    requestPrincipals: ["https://issuer.example/*"], namespaces: ["prod-*"], notNamespaces: ["dev"],
    serviceAccounts: ["bar/reader"], ipBlocks: ["10.0.0.0/8", "1.2.3.4", "2001:db8::/32"], notRemoteIpBlocks: ["9.9.9.9"],
  } }] }] }, { ...OPTS, trustDomain: "example.org" });
  assert.deepEqual(principalParts(p), [
    { or_ids: { ids: [
      { authenticated: { principal_name: { exact: "spiffe://example.org/ns/a/sa/b" } } },
      { authenticated: { principal_name: { safe_regex: { regex: "spiffe://.*/sa/admin" } } } },
      { authenticated: { principal_name: { prefix: "spiffe://prefix-" } } },
      { authenticated: { principal_name: { safe_regex: { regex: ".+" } } } },
    ] } },
    { or_ids: { ids: [{ metadata: { filter: "istio_authn", path: [{ key: "request.auth.principal" }], value: { string_match: { prefix: "https://issuer.example/" } } } }] } },
    { or_ids: { ids: [{ authenticated: { principal_name: { safe_regex: { regex: "spiffe://.+/ns/bar/(.+/|)sa/reader(/.+)?" } } } }] } },
    { or_ids: { ids: [{ authenticated: { principal_name: { safe_regex: { regex: ".*/ns/prod-.*/.*" } } } }] } },
    { not_id: { or_ids: { ids: [{ authenticated: { principal_name: { safe_regex: { regex: ".*/ns/dev/.*" } } } }] } } },
    { not_id: { or_ids: { ids: [{ remote_ip: { address_prefix: "9.9.9.9", prefix_len: { value: 32 } } }] } } },
    { or_ids: { ids: [
      { direct_remote_ip: { address_prefix: "10.0.0.0", prefix_len: { value: 8 } } },
      { direct_remote_ip: { address_prefix: "1.2.3.4", prefix_len: { value: 32 } } },
      { direct_remote_ip: { address_prefix: "2001:db8::", prefix_len: { value: 32 } } },
    ] } },
  ]);
});

test("every `when` key lands on its side, ANDed onto each from / to entry", () => {
  const when = (key: string, values: string[], notValues: string[] = []) => ({ key, values, notValues });
  const p = onlyPolicy({ rules: [{
    from: [{ source: { namespaces: ["a"] } }, { source: { namespaces: ["b"] } }],
    when: [
      when("request.headers[X-Token]", ["*"], ["bad*"]), when("source.ip", ["10.0.0.1"]), when("remote.ip", ["10.0.0.0/24"]),
      when("source.namespace", ["ns1"]), when("source.principal", ["cluster.local/ns/x/sa/y"]),
      when("request.auth.principal", ["iss/sub"]), when("request.auth.audiences", ["aud1"]), when("request.auth.presenter", ["azp"]),
      when("request.auth.claims[realm][roles]", ["admin"]), when("destination.ip", ["10.9.0.0/16"]), when("destination.port", ["9080"]),
      when("connection.sni", ["*.local"]),
    ],
  }] });
  assert.equal(p.principals.length, 2, "one principal per from entry");
  const ids = principalParts(p, 1);
  assert.deepEqual(ids[0], { or_ids: { ids: [{ authenticated: { principal_name: { safe_regex: { regex: ".*/ns/b/.*" } } } }] } });
  assert.deepEqual(ids.slice(1), [
    { or_ids: { ids: [{ header: { name: "X-Token", present_match: true } }] } },
    { not_id: { or_ids: { ids: [{ header: { name: "X-Token", string_match: { prefix: "bad" } } }] } } },
    { or_ids: { ids: [{ direct_remote_ip: { address_prefix: "10.0.0.1", prefix_len: { value: 32 } } }] } },
    { or_ids: { ids: [{ remote_ip: { address_prefix: "10.0.0.0", prefix_len: { value: 24 } } }] } },
    { or_ids: { ids: [{ authenticated: { principal_name: { safe_regex: { regex: ".*/ns/ns1/.*" } } } }] } },
    { or_ids: { ids: [{ authenticated: { principal_name: { exact: "spiffe://cluster.local/ns/x/sa/y" } } }] } },
    { or_ids: { ids: [{ metadata: { filter: "istio_authn", path: [{ key: "request.auth.principal" }], value: { string_match: { exact: "iss/sub" } } } }] } },
    { or_ids: { ids: [{ metadata: { filter: "istio_authn", path: [{ key: "request.auth.audiences" }], value: { list_match: { one_of: { string_match: { exact: "aud1" } } } } } }] } },
    { or_ids: { ids: [{ metadata: { filter: "istio_authn", path: [{ key: "request.auth.presenter" }], value: { string_match: { exact: "azp" } } } }] } },
    { or_ids: { ids: [{ metadata: { filter: "istio_authn", path: [{ key: "request.auth.claims" }, { key: "realm" }, { key: "roles" }], value: { list_match: { one_of: { string_match: { exact: "admin" } } } } } }] } },
  ]);
  assert.deepEqual(permissionParts(p), [
    { or_rules: { rules: [{ destination_ip: { address_prefix: "10.9.0.0", prefix_len: { value: 16 } } }] } },
    { or_rules: { rules: [{ destination_port: 9080 }] } },
    { or_rules: { rules: [{ requested_server_name: { suffix: ".local" } }] } },
  ]);
});

test("bad values and unknown keys fail closed: ALLOW drops the rule (with a warning), DENY widens", () => {
  const rules = [
    { from: [{ source: { ipBlocks: ["10.0.0.0/8", "not-an-ip"] } }] },
    { when: [{ key: "request.unknown", values: ["x"] }], to: [{ operation: { paths: ["/admin"] } }] },
    { to: [{ operation: { ports: ["99999"], paths: ["/ok"] } }] },
  ];
  const warnings: ConfigError[] = [];
  const [allow] = rbac(authorizationFilters([ap("foo", "p", { rules })], WORKLOAD, { ...OPTS, warnings }));
  assert.deepEqual(allow!.rules!.policies, {}, "every ALLOW rule had a bad part: nothing is allowed");
  assert.deepEqual(warnings.map((w) => w.field), ["spec.rules[0]", "spec.rules[1]", "spec.rules[2]"]);
  assert.match(warnings[1]!.message, /unknown attribute "request.unknown".*allows less/);
  const [deny] = rbac(authorizationFilters([ap("foo", "p", { action: "DENY", rules })], WORKLOAD, OPTS));
  const policies = deny!.rules!.policies;
  assert.deepEqual(principalParts(policies["ns[foo]-policy[p]-rule[0]"]!), [{ or_ids: { ids: [{ direct_remote_ip: { address_prefix: "10.0.0.0", prefix_len: { value: 8 } } }] } }]);
  assert.deepEqual(permissionParts(policies["ns[foo]-policy[p]-rule[1]"]!), [{ or_rules: { rules: [{ url_path: { path: { exact: "/admin" } } }] } }], "the unknown condition is dropped, not the rule");
  assert.deepEqual(permissionParts(policies["ns[foo]-policy[p]-rule[2]"]!), [{ or_rules: { rules: [{ url_path: { path: { exact: "/ok" } } }] } }]);
});

test("dry-run policies go to shadow_rules with Istio's stat prefix", () => {
  const [allow] = rbac(authorizationFilters([
    ap("foo", "dry", { rules: [{}] }, { "istio.io/dry-run": "true" }),
  ], WORKLOAD, OPTS));
  assert.equal(allow!.rules, undefined);
  assert.deepEqual(Object.keys(allow!.shadow_rules!.policies), ["ns[foo]-policy[dry]-rule[0]"]);
  assert.equal(allow!.shadow_rules_stat_prefix, "istio_dry_run_allow_");
});

test("the output encodes as Envoy's protos inside an HTTP connection manager and decodes back", () => {
  const filters = authorizationFilters([
    ap("istio-system", "audit", { action: "AUDIT", rules: [{ to: [{ operation: { methods: ["DELETE"] } }] }] }),
    ap("foo", "deny", { action: "DENY", rules: [{ from: [{ source: { notNamespaces: ["foo"], ipBlocks: ["10.0.0.0/8"] } }], to: [{ operation: { paths: ["/admin*"], hosts: ["*.example.com"] } }], when: [{ key: "request.auth.claims[groups]", values: ["x"] }, { key: "connection.sni", values: ["*"] }] }] }),
    ap("foo", "allow", { rules: [{ from: [{ source: { principals: ["*"] } }], to: [{ operation: { ports: ["9080"] } }], when: [{ key: "request.headers[x-a]", notValues: ["*"] }, { key: "destination.ip", values: ["::1"] }] }] }),
    ap("foo", "dry", { action: "DENY", rules: [{}] }, { "istio.io/dry-run": "true" }),
  ], WORKLOAD, OPTS);
  const hcm = {
    stat_prefix: "inbound_9080",
    rds: { route_config_name: "r", config_source: { ads: {}, resource_api_version: "V3" } },
    http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
  };
  const decoded = decodeResource(encodeResource(TYPE.hcm, hcm));
  assert.equal(decoded.http_filters.length, 4);
  const back = decoded.http_filters.slice(0, 3).map((f: { name: string; typed_config: HttpRbacAny }) => ({ name: f.name, typed_config: f.typed_config }));
  assert.deepEqual(back, filters);
});
