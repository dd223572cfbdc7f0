import { test } from "node:test";
import assert from "node:assert/strict";
import type { ProxyNode } from "../../xds/node.ts";
import { PEER_ID_HEADER, PEER_METADATA_HEADER, UNKNOWN_PEER, decodePeerMetadata, encodePeerMetadata, peerFromNode, takePeerHeaders } from "./peer-metadata.ts";
import { clusterService, serviceFromAuthority } from "./destination-service.ts";

function node(labels: Record<string, string>): ProxyNode {
  return { id: "sidecar~127.0.0.9~reviews-v2.prod~prod.svc.cluster.local", type: "sidecar", ip: "127.0.0.9", name: "reviews-v2", namespace: "prod", labels, serviceAccount: "reviews", ports: [], appAddress: "", interceptionMode: "NONE", autoRegister: false };
}

test("a proxy's own metadata decodes back to the same identity", () => {
  const n = node({ app: "reviews", version: "v2" });
  const peer = decodePeerMetadata(encodePeerMetadata(n));
  assert.deepEqual(peer, peerFromNode(n));
  assert.deepEqual(peer, { workload: "reviews-v2", namespace: "prod", app: "reviews", version: "v2", canonicalService: "reviews", canonicalRevision: "v2", cluster: "Kubernetes" });
});

test("canonical labels win over app and version; without any the workload and 'latest' stand in", () => {
  const p = peerFromNode(node({ app: "reviews", version: "v2", "service.istio.io/canonical-name": "ratings-ui", "service.istio.io/canonical-revision": "r7" }));
  assert.equal(p.canonicalService, "ratings-ui");
  assert.equal(p.canonicalRevision, "r7");
  const bare = decodePeerMetadata(encodePeerMetadata(node({})));
  assert.equal(bare.app, "unknown");
  assert.equal(bare.version, "unknown");
  assert.equal(bare.canonicalService, "reviews-v2");
  assert.equal(bare.canonicalRevision, "latest");
});

test("garbage in the header is an unknown peer, never an exception", () => {
  assert.deepEqual(decodePeerMetadata("%%%not base64"), UNKNOWN_PEER);
  assert.deepEqual(decodePeerMetadata(Buffer.from("[1,2]").toString("base64")), UNKNOWN_PEER);
  assert.deepEqual(decodePeerMetadata(Buffer.from('"str"').toString("base64")), UNKNOWN_PEER);
  assert.deepEqual(decodePeerMetadata("x".repeat(20000)), UNKNOWN_PEER);
  const partial = decodePeerMetadata(Buffer.from(JSON.stringify({ NAME: 7, NAMESPACE: "ns", LABELS: { app: 3 } })).toString("base64"));
  assert.equal(partial.workload, "unknown");
  assert.equal(partial.namespace, "ns");
  assert.equal(partial.app, "unknown");
});

test("taking the peer headers removes both and returns the metadata", () => {
  const h: Record<string, string | string[] | undefined> = { [PEER_METADATA_HEADER]: ["a", "b"], [PEER_ID_HEADER]: "id", other: "x" };
  assert.equal(takePeerHeaders(h), "a");
  assert.deepEqual(h, { other: "x" });
  assert.equal(takePeerHeaders(h), undefined);
});

test("the destination service comes from cluster metadata, else from the authority", () => {
  const md = { filter_metadata: { istio: { fields: { services: { list_value: { values: [{ struct_value: { fields: { host: { string_value: "reviews.prod.svc.cluster.local" }, name: { string_value: "reviews" }, namespace: { string_value: "prod" } } } }] } } } } } };
  assert.deepEqual(clusterService(md), { host: "reviews.prod.svc.cluster.local", name: "reviews", namespace: "prod" });
  assert.equal(clusterService(undefined), undefined);
  assert.equal(clusterService({ filter_metadata: { istio: { fields: {} } } }), undefined);
  assert.deepEqual(serviceFromAuthority("reviews:9080", "prod"), { host: "reviews.prod.svc.cluster.local", name: "reviews", namespace: "prod" });
  assert.deepEqual(serviceFromAuthority("ratings.other", "prod"), { host: "ratings.other.svc.cluster.local", name: "ratings", namespace: "other" });
  assert.deepEqual(serviceFromAuthority("Ratings.other.svc.cluster.local:80", "prod"), { host: "ratings.other.svc.cluster.local", name: "ratings", namespace: "other" });
  assert.deepEqual(serviceFromAuthority("10.1.2.3:80", "prod"), { host: "10.1.2.3", name: "10.1.2.3", namespace: "unknown" });
  assert.deepEqual(serviceFromAuthority("-", "prod"), { host: "unknown", name: "unknown", namespace: "unknown" });
});

test("the header leaves out what decodes the same anyway, and keeps what does not", () => {
  const plain = node({ app: "reviews", version: "v2" });
  const json = JSON.parse(Buffer.from(encodePeerMetadata(plain), "base64").toString()) as Record<string, unknown>;
  assert.deepEqual(json, { NAME: "reviews-v2", NAMESPACE: "prod", CLUSTER_ID: "Kubernetes", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v2" } });
  const cases: Record<string, string>[] = [{ "app.kubernetes.io/name": "rev", "app.kubernetes.io/version": "9" }, { app: "a", "service.istio.io/canonical-name": "c", "service.istio.io/canonical-revision": "r" }, {}];
  for (const labels of cases) {
    const n = node(labels);
    assert.deepEqual(decodePeerMetadata(encodePeerMetadata(n)), peerFromNode(n), JSON.stringify(labels));
  }
});
