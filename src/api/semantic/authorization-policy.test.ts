import { test } from "node:test";
import assert from "node:assert/strict";
import { Issues } from "./checks.ts";
import { checkAuthorizationPolicyMore } from "./authorization-policy.ts";

function check(spec: Record<string, unknown>): { path: string; message: string; severity: string | undefined }[] {
  const out = new Issues();
  checkAuthorizationPolicyMore(spec, out);
  return out.list.map((i) => ({ path: i.path.join("."), message: i.message, severity: i.severity }));
}

function errors(spec: Record<string, unknown>) {
  return check(spec).filter((i) => i.severity === "error");
}

test("a policy using every supported field and key passes", () => {
  const spec = {
    action: "ALLOW",
    rules: [{
      from: [{ source: { principals: ["cluster.local/ns/a/sa/b", "*"], namespaces: ["prod-*"], ipBlocks: ["10.0.0.0/8", "::1"], notRemoteIpBlocks: ["1.2.3.4"], requestPrincipals: ["https://issuer/*"] } }],
      to: [{ operation: { hosts: ["*.example.com"], methods: ["GET"], paths: ["/api/*", "*/info", "/v1/{*}/items/{**}"], ports: ["8080"] } }],
      when: [
        { key: "request.headers[x-token]", values: ["abc"] },
        { key: "request.auth.claims[realm][roles]", values: ["admin"] },
        { key: "source.ip", notValues: ["10.1.0.0/16"] },
        { key: "destination.port", values: ["9080"] },
        { key: "connection.sni", values: ["*.svc"] },
        { key: "request.auth.audiences", values: ["api"] },
      ],
    }],
  };
  assert.deepEqual(check(spec), []);
});

test("unknown and unsupported when keys are errors that say what to use", () => {
  const got = errors({ rules: [{ when: [
    { key: "request.header[x]", values: ["a"] },
    { key: "destination.labels[app]", values: ["a"] },
    { key: "destination.namespace", values: ["a"] },
    { key: "experimental.envoy.filters.a.b[c]", values: ["a"] },
    { key: "request.headers", values: ["a"] },
    { key: "request.auth.claims[]", values: ["a"] },
  ] }] });
  assert.equal(got.length, 6);
  assert.match(got[0]!.message, /unknown attribute "request.header\[x\]"; known keys: request.headers\[<name>\]/);
  assert.equal(got[0]!.path, "spec.rules.0.when.0.key");
  assert.match(got[1]!.message, /selector/);
  assert.match(got[2]!.message, /namespace/);
  assert.match(got[3]!.message, /does not support/);
  assert.match(got[4]!.message, /one header in brackets/);
  assert.match(got[5]!.message, /claim in brackets/);
});

test("IP blocks, IP conditions and port conditions are checked", () => {
  const got = errors({ rules: [{
    from: [{ source: { ipBlocks: ["10.0.0.0/33", "10.0.0.1"], notRemoteIpBlocks: ["nope"] } }],
    when: [{ key: "destination.ip", values: ["300.1.1.1"] }, { key: "destination.port", notValues: ["http"] }],
  }] });
  assert.deepEqual(got.map((g) => g.path), [
    "spec.rules.0.from.0.source.ipBlocks.0",
    "spec.rules.0.from.0.source.notRemoteIpBlocks.0",
    "spec.rules.0.when.0.values.0",
    "spec.rules.0.when.1.notValues.0",
  ]);
  assert.match(got[0]!.message, /prefix length/);
  assert.match(got[3]!.message, /not a port/);
});

test("wildcards in the middle, empty values and bad path templates are errors", () => {
  const got = errors({ rules: [{
    from: [{ source: { namespaces: ["a*b"], principals: [""] } }],
    to: [{ operation: { paths: ["/a/*/b", "/x/{**}/y/{*}", "/x/{name}/{*}", "/ok/{*}"], hosts: [7] } }],
  }] });
  assert.deepEqual(got.map((g) => g.path), [
    "spec.rules.0.from.0.source.principals.0",
    "spec.rules.0.from.0.source.namespaces.0",
    "spec.rules.0.to.0.operation.hosts.0",
    "spec.rules.0.to.0.operation.paths.0",
    "spec.rules.0.to.0.operation.paths.1",
    "spec.rules.0.to.0.operation.paths.2",
  ]);
  assert.match(got[0]!.message, /empty values/);
  assert.match(got[1]!.message, /only at the start or end/);
  assert.match(got[2]!.message, /quote it/);
  assert.match(got[4]!.message, /\{\*\*\} must be the last operator/);
  assert.match(got[5]!.message, /only \{\*\}/);
});

test("likely mistakes are warnings: spiffe:// principals, lowercase methods, relative paths", () => {
  const got = check({ rules: [{
    from: [{ source: { principals: ["spiffe://cluster.local/ns/a/sa/b"] } }],
    to: [{ operation: { methods: ["get"], paths: ["api"] } }],
  }] });
  assert.deepEqual(got.map((g) => [g.severity, g.path]), [
    ["warning", "spec.rules.0.from.0.source.principals.0"],
    ["warning", "spec.rules.0.to.0.operation.paths.0"],
    ["warning", "spec.rules.0.to.0.operation.methods.0"],
  ]);
  assert.match(got[2]!.message, /write "GET"/);
});
