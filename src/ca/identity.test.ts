import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSpiffeId, parseSpiffeId, sameIdentity, workloadIdentity } from "./identity.ts";

test("formats and parses Istio-shaped SPIFFE IDs both ways", () => {
  const id = workloadIdentity("cluster.local", "bookinfo", "bookinfo-reviews");
  const text = formatSpiffeId(id);
  assert.equal(text, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
  assert.deepEqual(parseSpiffeId(text), id);
  assert.ok(sameIdentity(parseSpiffeId(text), id));
  assert.ok(!sameIdentity(parseSpiffeId("spiffe://cluster.local/ns/bookinfo/sa/other"), id));
  assert.deepEqual(parseSpiffeId("spiffe://example.org/ns/a-b/sa/x.y"), { trustDomain: "example.org", namespace: "a-b", serviceAccount: "x.y" });
});

test("refuses malformed SPIFFE IDs with a message naming the problem", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["https://cluster.local/ns/a/sa/b", /must start with spiffe:\/\//],
    ["SPIFFE://cluster.local/ns/a/sa/b", /must start with spiffe:\/\//],
    ["spiffe://cluster.local", /has no path/],
    ["spiffe://cluster.local/ns/a", /\/ns\/<namespace>\/sa\/<service-account>/],
    ["spiffe://cluster.local/ns/a/sa/b/extra", /\/ns\/<namespace>\/sa\/<service-account>/],
    ["spiffe://cluster.local/sa/b/ns/a", /\/ns\/<namespace>\/sa\/<service-account>/],
    ["spiffe://Cluster.Local/ns/a/sa/b", /trust domain "Cluster.Local"/],
    ["spiffe://cluster.local:8080/ns/a/sa/b", /trust domain/],
    ["spiffe:///ns/a/sa/b", /trust domain is empty/],
    ["spiffe://cluster.local/ns/A/sa/b", /namespace "A"/],
    ["spiffe://cluster.local/ns/a/sa/../x", /\/ns\/<namespace>\/sa\/<service-account>/],
    ["spiffe://cluster.local/ns/a/sa/-b", /service account "-b"/],
    ["spiffe://cluster.local/ns/a/sa/b?x=1", /query/],
    ["spiffe://cluster.local/ns/a/sa/b%2F", /percent/],
    [`spiffe://cluster.local/ns/${"a".repeat(64)}/sa/b`, /namespace/],
    [`spiffe://cluster.local/ns/a/sa/${"b".repeat(3000)}`, /longer than 2048/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => parseSpiffeId(text), (e: Error & { code?: string }) => e.code === "MIZZEN_E_CA_IDENTITY" && why.test(e.message), text);
  }
  assert.throws(() => workloadIdentity("cluster.local", "ns", ""), /service account ""/);
  assert.throws(() => formatSpiffeId({ trustDomain: "td", namespace: "ns", serviceAccount: "a/b" }), /service account "a\/b"/);
});
