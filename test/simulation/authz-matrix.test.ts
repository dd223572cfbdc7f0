// Authorization matrix modelled on Istio's documented AuthorizationPolicy examples. Each case
// goes the whole way: YAML (validated by Mizzen's loader) -> authorizationFilters -> the xDS
// wire (encoded and decoded inside an HTTP connection manager) -> compileRbac -> evaluateRbac,
// and asserts the decision and the RBAC policy that made it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "../../src/api/index.ts";
import { TYPE } from "../../src/xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../../src/xds/protos.ts";
import { authorizationFilters } from "../../src/translate/authz.ts";
import { compileRbac, evaluateRbac, type AuthzRequest, type AuthzDecision } from "../../src/proxy/http/filters/rbac.ts";

const FOO_HTTPBIN = { namespace: "foo", labels: { app: "httpbin", version: "v1" } };
const SLEEP_FOO = "spiffe://cluster.local/ns/foo/sa/sleep";
const SLEEP_BAR = "spiffe://cluster.local/ns/bar/sa/sleep";

/** Builds the sidecar's RBAC filters for `workload` from YAML and sends them over the wire. */
function sidecar(yaml: string, workload = FOO_HTTPBIN) {
  const { objects, errors } = parseConfigText(yaml, "policies.yaml");
  assert.deepEqual(errors.filter((e) => e.severity === "error"), [], "the policies are valid");
  const filters = authorizationFilters(objects, workload, { rootNamespace: "istio-system", trustDomain: "cluster.local" });
  const hcm = {
    stat_prefix: "inbound_8000",
    rds: { route_config_name: "inbound|8000", config_source: { ads: {}, resource_api_version: "V3" } },
    http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
  };
  const wire = decodeResource(encodeResource(TYPE.hcm, hcm));
  const compiled = wire.http_filters
    .filter((f: { name: string }) => f.name === "envoy.filters.http.rbac")
    .map((f: { typed_config: unknown }, i: number) => compileRbac(f.typed_config, `http_filters[${i}].typed_config`));
  return (over: Partial<AuthzRequest> = {}): AuthzDecision => evaluateRbac(compiled, {
    method: "GET", path: "/ip", authority: "httpbin.foo:8000", headers: {},
    directRemoteIp: "10.1.0.5", remoteIp: "10.1.0.5", destinationIp: "10.2.0.9", destinationPort: 8000,
    principal: SLEEP_FOO, sni: undefined, metadata: {}, ...over,
  });
}

const ALLOWED = { allowed: true };
const NO_ALLOW_MATCH = { allowed: false, reason: "no_allow_policy_matched" };
const deniedBy = (policy: string) => ({ allowed: false, policy, reason: "denied_by_policy" });

function policy(name: string, ns: string, spec: string): string {
  return `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec}`;
}

test("no policy allows everything; allow-nothing denies everything; deny-all names itself", () => {
  assert.deepEqual(sidecar("")(), ALLOWED);
  const allowNothing = sidecar(policy("allow-nothing", "foo", "  {}\n"));
  assert.deepEqual(allowNothing(), NO_ALLOW_MATCH);
  assert.deepEqual(allowNothing({ principal: undefined, path: "/anything" }), NO_ALLOW_MATCH);
  const denyAll = sidecar(policy("deny-all", "foo", "  action: DENY\n  rules:\n  - {}\n"));
  assert.deepEqual(denyAll(), deniedBy("ns[foo]-policy[deny-all]-rule[0]"));
  const denyNothing = sidecar(policy("deny-nothing", "foo", "  action: DENY\n"));
  assert.deepEqual(denyNothing(), ALLOWED);
});

test("allow by source namespace (mTLS identities); plaintext has no namespace", () => {
  const check = sidecar(policy("allow-foo", "foo", `
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: ["foo"]
`));
  assert.deepEqual(check({ principal: SLEEP_FOO }), ALLOWED);
  assert.deepEqual(check({ principal: SLEEP_BAR }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ principal: undefined }), NO_ALLOW_MATCH);
});

test("principal + method (httpbin-viewer), and notPrincipals", () => {
  const check = sidecar(policy("viewer", "foo", `
  selector:
    matchLabels:
      app: httpbin
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/foo/sa/sleep"]
    to:
    - operation:
        methods: ["GET", "HEAD"]
  - from:
    - source:
        notPrincipals: ["cluster.local/ns/foo/*"]
    to:
    - operation:
        paths: ["/status/*"]
`));
  assert.deepEqual(check({ method: "GET" }), ALLOWED);
  assert.deepEqual(check({ method: "POST" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ principal: SLEEP_BAR, method: "GET" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ principal: SLEEP_BAR, method: "POST", path: "/status/200" }), ALLOWED);
  assert.deepEqual(check({ principal: SLEEP_FOO, method: "POST", path: "/status/200" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ principal: undefined, method: "POST", path: "/status/200?x=1" }), ALLOWED, "notPrincipals also admits plaintext");
});

test("deny by path and method, with a header exception; DENY decides before ALLOW", () => {
  const check = sidecar(policy("deny-get-headers", "foo", `
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/headers", "/admin/*"]
    when:
    - key: request.headers[x-token]
      notValues: ["admin"]
`) + policy("allow-some", "foo", `
  rules:
  - to:
    - operation:
        paths: ["/ip", "/headers"]
`));
  assert.deepEqual(check({ path: "/headers" }), deniedBy("ns[foo]-policy[deny-get-headers]-rule[0]"));
  assert.deepEqual(check({ path: "/admin/users?page=2" }), deniedBy("ns[foo]-policy[deny-get-headers]-rule[0]"), "the DENY filter runs first");
  assert.deepEqual(check({ path: "/headers", headers: { "x-token": "admin" } }), ALLOWED);
  assert.deepEqual(check({ path: "/headers", method: "POST" }), ALLOWED);
  assert.deepEqual(check({ path: "/ip" }), ALLOWED);
  assert.deepEqual(check({ path: "/other" }), NO_ALLOW_MATCH);
});

test("ipBlocks and notIpBlocks on the peer, remoteIpBlocks on the original client; IPv4-mapped peers", () => {
  const check = sidecar(policy("ip-allow", "foo", `
  rules:
  - from:
    - source:
        ipBlocks: ["10.1.0.0/16", "2001:db8::/48"]
        notIpBlocks: ["10.1.9.9"]
  - from:
    - source:
        remoteIpBlocks: ["203.0.113.7"]
`));
  assert.deepEqual(check({ directRemoteIp: "10.1.200.1" }), ALLOWED);
  assert.deepEqual(check({ directRemoteIp: "::ffff:10.1.200.1" }), ALLOWED);
  assert.deepEqual(check({ directRemoteIp: "10.1.9.9", remoteIp: "10.1.9.9" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ directRemoteIp: "2001:db8:0:1::7", remoteIp: "2001:db8:0:1::7" }), ALLOWED);
  assert.deepEqual(check({ directRemoteIp: "10.3.0.1", remoteIp: "10.3.0.1" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ directRemoteIp: "10.3.0.1", remoteIp: "203.0.113.7" }), ALLOWED);
});

test("header conditions, hosts (any case), ports and method + path pairs", () => {
  const check = sidecar(policy("ops", "foo", `
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/info*"]
    - operation:
        methods: ["POST"]
        paths: ["/data"]
    when:
    - key: request.headers[version]
      values: ["v1", "v2"]
  - to:
    - operation:
        hosts: ["*.example.com"]
        ports: ["9090"]
`));
  const v1 = { headers: { version: "v1" } };
  assert.deepEqual(check({ ...v1, path: "/info/me" }), ALLOWED);
  assert.deepEqual(check({ ...v1, method: "POST", path: "/data" }), ALLOWED);
  assert.deepEqual(check({ ...v1, method: "POST", path: "/info" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ headers: { version: "v3" }, path: "/info" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ path: "/info" }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ authority: "API.Example.COM", destinationPort: 9090 }), ALLOWED);
  assert.deepEqual(check({ authority: "api.example.com", destinationPort: 8000 }), NO_ALLOW_MATCH);
});

test("request principals and JWT claims read the JWT filter's metadata", () => {
  const jwt = (sub: string, groups: string | string[]) => ({
    istio_authn: {
      "request.auth.principal": `testing@secure.istio.io/${sub}`,
      "request.auth.audiences": ["httpbin"],
      "request.auth.presenter": "cli",
      "request.auth.claims": { iss: "testing@secure.istio.io", sub, groups, realm: { roles: ["ops"] } },
    },
  });
  const check = sidecar(policy("require-jwt", "foo", `
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["testing@secure.istio.io/*"]
    when:
    - key: request.auth.claims[groups]
      values: ["group1"]
  - from:
    - source:
        requestPrincipals: ["*"]
    to:
    - operation:
        paths: ["/ops/*"]
    when:
    - key: request.auth.claims[realm][roles]
      values: ["ops"]
    - key: request.auth.audiences
      values: ["httpbin"]
`) + policy("deny-no-token", "istio-system", `
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
    to:
    - operation:
        paths: ["/secure/*"]
`));
  assert.deepEqual(check({ metadata: jwt("alice", ["group1", "group2"]) }), ALLOWED);
  assert.deepEqual(check({ metadata: jwt("bob", "group1") }), ALLOWED, "a single-valued claim is a one-element list");
  assert.deepEqual(check({ metadata: jwt("carol", ["group2"]) }), NO_ALLOW_MATCH);
  assert.deepEqual(check({ metadata: jwt("carol", ["group2"]), path: "/ops/restart" }), ALLOWED);
  assert.deepEqual(check(), NO_ALLOW_MATCH, "no token");
  assert.deepEqual(check({ path: "/secure/x" }), deniedBy("ns[istio-system]-policy[deny-no-token]-rule[0]"));
  assert.deepEqual(check({ path: "/secure/x", metadata: jwt("alice", "group1") }), ALLOWED);
});

test("root-namespace policies apply mesh-wide and follow their selector", () => {
  const yaml = policy("global-deny-admin", "istio-system", `
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin*"]
`) + policy("v2-only", "istio-system", `
  action: DENY
  selector:
    matchLabels:
      version: v2
  rules:
  - to:
    - operation:
        methods: ["DELETE"]
`);
  const foo = sidecar(yaml);
  const bar = sidecar(yaml, { namespace: "bar", labels: { app: "ratings", version: "v2" } });
  assert.deepEqual(foo({ path: "/admin" }), deniedBy("ns[istio-system]-policy[global-deny-admin]-rule[0]"));
  assert.deepEqual(bar({ path: "/admin/x" }), deniedBy("ns[istio-system]-policy[global-deny-admin]-rule[0]"));
  assert.deepEqual(foo({ method: "DELETE" }), ALLOWED);
  assert.deepEqual(bar({ method: "DELETE" }), deniedBy("ns[istio-system]-policy[v2-only]-rule[0]"));
});

test("AUDIT records the matching policy and never denies; dry-run policies never enforce", () => {
  const check = sidecar(policy("audit-writes", "foo", `
  action: AUDIT
  rules:
  - to:
    - operation:
        methods: ["POST", "PUT", "DELETE"]
`) + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dry-deny
  namespace: foo
  annotations:
    istio.io/dry-run: "true"
spec:
  action: DENY
  rules:
  - {}
`);
  const dryRun = [{ prefix: "istio_dry_run_deny_", allowed: false, policy: "ns[foo]-policy[dry-deny]-rule[0]" }];
  assert.deepEqual(check({ method: "PUT" }), { allowed: true, audited: ["ns[foo]-policy[audit-writes]-rule[0]"], shadow: dryRun });
  assert.deepEqual(check({ method: "GET" }), { allowed: true, shadow: dryRun });
});
