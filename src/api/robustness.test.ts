// Hostile and malformed input must come back as errors, never as an exception or a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "./index.ts";

function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mustNotThrow(text: string, label: string): ReturnType<typeof parseConfigText> {
  let result: ReturnType<typeof parseConfigText> | undefined;
  assert.doesNotThrow(() => {
    result = parseConfigText(text, `${label}.yaml`);
  }, label);
  assert.ok(Array.isArray(result!.objects) && Array.isArray(result!.errors));
  return result!;
}

test("random bytes never throw", () => {
  const rand = seededRandom(42);
  for (let i = 0; i < 200; i++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    mustNotThrow(bytes.toString("latin1"), `random-${i}`);
  }
});

test("random YAML-ish punctuation never throws", () => {
  const rand = seededRandom(7);
  const alphabet = ":-[]{}&*!|>'\"#%@`,? \n\tkind apiVersion spec metadata name 0 1.5e308 ~ null";
  for (let i = 0; i < 300; i++) {
    let s = "";
    for (let j = 0; j < 200; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
    mustNotThrow(s, `punct-${i}`);
  }
});

test("deeply nested YAML is rejected, not a stack overflow", () => {
  const depth = 5000;
  const flow = "a: " + "[".repeat(depth) + "]".repeat(depth);
  mustNotThrow(flow, "deep-flow");
  const spec = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  http: " + "[".repeat(depth) + "]".repeat(depth);
  const r = mustNotThrow(spec, "deep-spec");
  assert.equal(r.objects.length, 0);
  assert.ok(r.errors.length > 0);
});

test("an alias bomb is refused with a message", () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(",")}]`);
  }
  lines.push("apiVersion: v1\nkind: Service\nmetadata: {name: bomb}\nspec: {ports: *j}");
  const r = mustNotThrow(lines.join("\n"), "bomb");
  assert.equal(r.objects.length, 0);
  assert.match(r.errors.map((e) => e.message).join("\n"), /alias/i);
});

test("huge numbers and wrong types everywhere are errors", () => {
  const doc = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: 123
  namespace: [a]
  labels: 7
spec:
  hosts: {a: b}
  gateways: 99999999999999999999999999999
  http:
  - route: "nope"
    timeout: 1e400
    retries: [1, 2]
    match: 5
  - route:
    - destination: 17
      weight: 1.0e30
  - 42
  tcp: true
  tls: null
`;
  const r = mustNotThrow(doc, "types");
  assert.equal(r.objects.length, 0);
  assert.ok(r.errors.length >= 5, r.errors.map((e) => e.message).join("\n"));
  for (const e of r.errors) assert.ok(e.line >= 1 && e.message.length > 0);
});

test("every known kind survives wrong types in every top-level spec field", () => {
  const kinds = [
    ["networking.istio.io/v1", "VirtualService", ["hosts", "http", "tcp", "tls", "gateways", "exportTo"]],
    ["networking.istio.io/v1", "DestinationRule", ["host", "subsets", "trafficPolicy", "exportTo"]],
    ["networking.istio.io/v1", "ServiceEntry", ["hosts", "ports", "endpoints", "resolution", "addresses", "workloadSelector"]],
    ["networking.istio.io/v1", "WorkloadEntry", ["address", "ports", "labels", "weight"]],
    ["networking.istio.io/v1", "WorkloadGroup", ["template", "metadata"]],
    ["networking.istio.io/v1", "Gateway", ["servers", "selector"]],
    ["networking.istio.io/v1", "Sidecar", ["egress", "ingress", "workloadSelector"]],
    ["security.istio.io/v1", "PeerAuthentication", ["mtls", "portLevelMtls", "selector"]],
    ["security.istio.io/v1", "AuthorizationPolicy", ["rules", "action", "selector"]],
    ["security.istio.io/v1", "RequestAuthentication", ["jwtRules", "selector"]],
    ["telemetry.istio.io/v1", "Telemetry", ["tracing", "accessLogging", "selector"]],
    ["v1", "Service", ["ports", "selector", "type"]],
  ] as const;
  const junk = ["1", "true", "'s'", "[1, [2]]", "{a: {b: [c]}}", "null", "-5", "[{}, 3]"];
  for (const [apiVersion, kind, fields] of kinds) {
    for (const field of fields) {
      for (const j of junk) {
        mustNotThrow(`apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x}\nspec:\n  ${field}: ${j}\n`, `${kind}-${field}`);
      }
    }
  }
});
