// Client-side TLS in CDS: auto mTLS by endpoint metadata, DestinationRule tls modes and their
// port / subset overrides, what gets nothing; and that the clusters and load assignments go
// through Envoy's protos and resolve per endpoint in the proxy as intended.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigObject } from "../api/types.ts";
import { cfg, kubeService, proxy } from "../registry/fixtures.ts";
import type { Cluster, ClusterLoadAssignment, CommonTlsContext, TransportSocket } from "../xds/envoy-types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import { compileCluster, compileEndpoints, withEndpoints } from "../proxy/state/compile-cluster.ts";
import { translateClusters } from "./clusters.ts";
import { translateEndpoints } from "./endpoints.ts";
import { inputFor } from "./test-support.ts";
import type { TranslateInput } from "./input.ts";

const HOST = "reviews.default.svc.cluster.local";
const SPIFFE = (sa: string, ns = "default", td = "cluster.local") => `spiffe://${td}/ns/${ns}/sa/${sa}`;
const client = proxy("productpage", "127.10.1.1", { app: "productpage" });

/** Sidecars (tlsMode istio) with service accounts reviews, reviews (again) and a-reviews; VMs with and without a sidecar. */
function reviewsMesh(extra: ConfigObject[] = []): TranslateInput {
  const objects = [
    kubeService("reviews", 9080),
    cfg("Service", "multi", { selector: { app: "multi" }, ports: [{ name: "http", port: 80 }, { name: "grpc-api", port: 7070 }, { name: "http2-stream", port: 7171 }] }),
    cfg("WorkloadEntry", "vm-sidecar", { address: "10.0.0.5", labels: { app: "reviews", version: "v1", "security.istio.io/tlsMode": "istio" }, serviceAccount: "vm-reviews" }),
    cfg("WorkloadEntry", "vm-plain", { address: "10.0.0.6", labels: { app: "reviews", version: "v2" }, serviceAccount: "legacy" }),
    cfg("WorkloadEntry", "multi-vm", { address: "10.0.0.7", labels: { app: "multi", "security.istio.io/tlsMode": "istio" }, serviceAccount: "multi" }),
    ...extra,
  ];
  const ports = [{ name: "http", containerPort: 9080 }];
  const proxies = [
    client,
    proxy("reviews-v1", "127.10.1.4", { app: "reviews", version: "v1" }, { ports }),
    proxy("reviews-v2", "127.10.1.5", { app: "reviews", version: "v2" }, { ports }),
    { ...proxy("reviews-v3", "127.10.1.6", { app: "reviews", version: "v3" }, { ports }), serviceAccount: "a-reviews" },
  ];
  return inputFor(objects, proxies, client);
}

function clusterNamed(input: TranslateInput, name: string): Cluster {
  const c = translateClusters(input).find((x) => x.name === name);
  assert.ok(c, `cluster ${name}`);
  return c;
}

function common(ts: TransportSocket | undefined): CommonTlsContext {
  assert.ok(ts);
  return (ts.typed_config as { common_tls_context: CommonTlsContext }).common_tls_context;
}
const sniOf = (ts: TransportSocket | undefined) => (ts?.typed_config as { sni?: string } | undefined)?.sni;
const sansOf = (ts: TransportSocket | undefined) => (common(ts).combined_validation_context?.default_validation_context.match_subject_alt_names ?? []).map((m) => m.exact);

function dr(host: string, trafficPolicy?: Record<string, unknown>, subsets?: Record<string, unknown>[]): ConfigObject {
  return cfg("DestinationRule", `dr-${host.split(".")[0]}`, { host, ...(trafficPolicy ? { trafficPolicy } : {}), ...(subsets ? { subsets } : {}) });
}

test("auto mTLS: SANs of the tlsMode-istio endpoints' service accounts, sorted and deduplicated; Istio's SNI; h1 ALPN", () => {
  const c = clusterNamed(reviewsMesh(), `outbound|9080||${HOST}`);
  assert.equal(c.transport_socket, undefined);
  assert.deepEqual(c.transport_socket_matches?.map((m) => m.name), ["tlsMode-istio", "tlsMode-disabled"]);
  const mesh = c.transport_socket_matches![0]!.transport_socket;
  assert.deepEqual(sansOf(mesh), [SPIFFE("a-reviews"), SPIFFE("reviews"), SPIFFE("vm-reviews")], "legacy (no sidecar) is not a server identity we expect");
  assert.equal(sniOf(mesh), `outbound_.9080_._.${HOST}`);
  assert.deepEqual(common(mesh).alpn_protocols, ["http/1.1"]);
  assert.equal(c.transport_socket_matches![1]!.transport_socket.name, "envoy.transport_sockets.raw_buffer");
});

test("the mesh's trust domain goes into the SANs", () => {
  const input = reviewsMesh();
  const c = clusterNamed({ ...input, mesh: { ...input.mesh, trustDomain: "example.org" } }, `outbound|9080||${HOST}`);
  assert.deepEqual(sansOf(c.transport_socket_matches![0]!.transport_socket), [SPIFFE("a-reviews", "default", "example.org"), SPIFFE("reviews", "default", "example.org"), SPIFFE("vm-reviews", "default", "example.org")]);
});

test("subset clusters: the subset in the SNI, the service's identities as SANs", () => {
  const input = reviewsMesh([dr("reviews", undefined, [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }])]);
  const v2 = clusterNamed(input, `outbound|9080|v2|${HOST}`);
  const mesh = v2.transport_socket_matches![0]!.transport_socket;
  assert.equal(sniOf(mesh), `outbound_.9080_.v2_.${HOST}`);
  assert.deepEqual(sansOf(mesh), [SPIFFE("a-reviews"), SPIFFE("reviews"), SPIFFE("vm-reviews")]);
});

test("h2 ALPN for GRPC and HTTP2 ports, http/1.1 for HTTP", () => {
  const input = reviewsMesh();
  const alpn = (port: number) => common(clusterNamed(input, `outbound|${port}||multi.default.svc.cluster.local`).transport_socket_matches![0]!.transport_socket).alpn_protocols;
  assert.deepEqual(alpn(7070), ["h2"]);
  assert.deepEqual(alpn(7171), ["h2"]);
  assert.deepEqual(alpn(80), ["http/1.1"]);
});

test("DestinationRule tls: DISABLE, ISTIO_MUTUAL, SIMPLE and MUTUAL", () => {
  const name = `outbound|9080||${HOST}`;
  const disabled = clusterNamed(reviewsMesh([dr("reviews", { tls: { mode: "DISABLE" } })]), name);
  assert.equal(disabled.transport_socket, undefined);
  assert.equal(disabled.transport_socket_matches, undefined, "DISABLE turns auto mTLS off too");

  const mutual = clusterNamed(reviewsMesh([dr("reviews", { tls: { mode: "ISTIO_MUTUAL" } })]), name);
  assert.equal(mutual.transport_socket_matches, undefined);
  assert.deepEqual(sansOf(mutual.transport_socket), [SPIFFE("a-reviews"), SPIFFE("reviews"), SPIFFE("vm-reviews")]);
  assert.equal(sniOf(mutual.transport_socket), `outbound_.9080_._.${HOST}`);
  assert.deepEqual(common(mutual.transport_socket).tls_certificate_sds_secret_configs?.map((s) => s.name), ["default"]);

  const simple = clusterNamed(reviewsMesh([dr("reviews", { tls: { mode: "SIMPLE", caCertificates: "/etc/ca.pem", sni: "reviews.example", subjectAltNames: ["reviews.example"] } })]), name);
  assert.equal(sniOf(simple.transport_socket), "reviews.example");
  assert.deepEqual(common(simple.transport_socket).validation_context, { trusted_ca: { filename: "/etc/ca.pem" }, match_subject_alt_names: [{ exact: "reviews.example" }] });
  assert.equal(common(simple.transport_socket).tls_certificates, undefined);

  const files = clusterNamed(reviewsMesh([dr("reviews", { tls: { mode: "MUTUAL", clientCertificate: "/c.pem", privateKey: "/k.pem", caCertificates: "/ca.pem" } })]), name);
  assert.deepEqual(common(files.transport_socket).tls_certificates, [{ certificate_chain: { filename: "/c.pem" }, private_key: { filename: "/k.pem" } }]);
  assert.equal(files.transport_socket_matches, undefined);
});

test("port-level tls replaces the top level for its port only; a subset's tls replaces the service's", () => {
  const rule = dr("multi", {
    tls: { mode: "ISTIO_MUTUAL" },
    portLevelSettings: [{ port: { number: 80 }, tls: { mode: "DISABLE" } }, { port: { number: 7171 }, loadBalancer: { simple: "RANDOM" } }],
  }, [{ name: "ext", labels: { app: "multi" }, trafficPolicy: { tls: { mode: "SIMPLE", sni: "multi.example" } } }, { name: "plain", labels: { app: "multi" } }]);
  const input = reviewsMesh([rule]);
  const at = (port: number, subset = "") => clusterNamed(input, `outbound|${port}|${subset}|multi.default.svc.cluster.local`);
  assert.equal(at(80).transport_socket, undefined, "port 80: DISABLE");
  assert.equal(at(80).transport_socket_matches, undefined);
  assert.deepEqual(sansOf(at(7070).transport_socket), [SPIFFE("multi")], "port 7070: the top-level ISTIO_MUTUAL");
  // Port-level settings do not inherit (Istio): 7171's entry has no tls, so auto mTLS applies.
  assert.equal(at(7171).transport_socket, undefined);
  assert.equal(at(7171).transport_socket_matches?.length, 2);
  assert.equal(sniOf(at(7070, "ext").transport_socket), "multi.example", "the subset's SIMPLE");
  assert.equal(common(at(7070, "ext").transport_socket).tls_certificate_sds_secret_configs, undefined);
  assert.equal(at(80, "plain").transport_socket, undefined, "a subset without tls keeps the port-level DISABLE");
  assert.equal(sniOf(at(7070, "plain").transport_socket), "outbound_.7070_.plain_.multi.default.svc.cluster.local");
});

test("MESH_EXTERNAL services get no TLS unless a DestinationRule asks; ORIGINAL_DST clusters never", () => {
  const external = cfg("ServiceEntry", "ext", { hosts: ["api.example.com"], ports: [{ number: 443, name: "https", protocol: "HTTPS" }], resolution: "DNS" });
  const passthrough = cfg("ServiceEntry", "any", { hosts: ["*.example.org"], ports: [{ number: 80, name: "http", protocol: "HTTP" }], resolution: "NONE", location: "MESH_INTERNAL" });
  const bare = reviewsMesh([external, passthrough]);
  const ext = clusterNamed(bare, "outbound|443||api.example.com");
  assert.equal(ext.type, "STRICT_DNS");
  assert.equal(ext.transport_socket, undefined);
  assert.equal(ext.transport_socket_matches, undefined);
  const orig = clusterNamed(bare, "outbound|80||*.example.org");
  assert.equal(orig.type, "ORIGINAL_DST");
  assert.equal(orig.transport_socket_matches, undefined, "a MESH_INTERNAL passthrough cluster: no auto mTLS");

  const originate = reviewsMesh([external, passthrough, dr("api.example.com", { tls: { mode: "SIMPLE", sni: "api.example.com" } }), dr("*.example.org", { tls: { mode: "ISTIO_MUTUAL" } })]);
  assert.equal(sniOf(clusterNamed(originate, "outbound|443||api.example.com").transport_socket), "api.example.com");
  const origTls = clusterNamed(originate, "outbound|80||*.example.org");
  assert.equal(origTls.transport_socket, undefined);
  assert.equal(origTls.transport_socket_matches, undefined);
});

test("a MESH_INTERNAL ServiceEntry: its endpoints labelled tlsMode istio get mTLS, with their service accounts", () => {
  const se = cfg("ServiceEntry", "vms", {
    hosts: ["vms.internal"],
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [{ number: 8443, name: "http", protocol: "HTTP" }],
    endpoints: [
      { address: "10.2.0.1", labels: { "security.istio.io/tlsMode": "istio" }, serviceAccount: "vm-a" },
      { address: "10.2.0.2", serviceAccount: "vm-b" },
    ],
  });
  const input = reviewsMesh([se]);
  const c = clusterNamed(input, "outbound|8443||vms.internal");
  assert.deepEqual(sansOf(c.transport_socket_matches![0]!.transport_socket), [SPIFFE("vm-a")]);
  const la = translateEndpoints(input).find((x) => x.cluster_name === "outbound|8443||vms.internal")!;
  const md = la.endpoints.flatMap((l) => l.lb_endpoints).map((e) => [e.endpoint.address.socket_address.address, e.metadata?.filter_metadata?.["envoy.transport_socket_match"]?.fields?.tlsMode?.string_value]);
  assert.deepEqual(md, [["10.2.0.1", "istio"], ["10.2.0.2", undefined]]);
});

test("endpoint metadata says tlsMode istio exactly for endpoints behind a sidecar", () => {
  const la = translateEndpoints(reviewsMesh()).find((x) => x.cluster_name === `outbound|9080||${HOST}`)!;
  const byAddress = Object.fromEntries(la.endpoints.flatMap((l) => l.lb_endpoints).map((e) => [e.endpoint.address.socket_address.address, e.metadata]));
  const istio = { filter_metadata: { "envoy.transport_socket_match": { fields: { tlsMode: { string_value: "istio" } } } } };
  assert.deepEqual(byAddress, { "10.0.0.5": istio, "10.0.0.6": undefined, "127.10.1.4": istio, "127.10.1.5": istio, "127.10.1.6": istio });
});

test("every cluster and load assignment encodes through Envoy's protos; the proxy resolves TLS per endpoint from them", () => {
  const input = reviewsMesh([dr("multi", { portLevelSettings: [{ port: { number: 7070 }, tls: { mode: "ISTIO_MUTUAL" } }] })]);
  const clusters = translateClusters(input);
  const las = translateEndpoints(input);
  assert.ok(clusters.some((c) => c.transport_socket_matches) && clusters.some((c) => c.transport_socket));
  const decodedClusters = new Map<string, Cluster>();
  for (const c of clusters) {
    const back = decodeResource(encodeResource(TYPE.cluster, c)) as Cluster;
    decodedClusters.set(c.name, back);
    assert.deepEqual(back.transport_socket, c.transport_socket && JSON.parse(JSON.stringify(c.transport_socket)), c.name);
  }
  const decodedLas = new Map<string, ClusterLoadAssignment>();
  for (const la of las) {
    const back = decodeResource(encodeResource(TYPE.endpoint, la)) as ClusterLoadAssignment;
    decodedLas.set(la.cluster_name, back);
    assert.deepEqual(back, JSON.parse(JSON.stringify(la)), la.cluster_name);
  }
  // Auto mTLS in the proxy: sidecar endpoints get mesh TLS with the SANs, the VM without one plaintext.
  const name = `outbound|9080||${HOST}`;
  const compiled = withEndpoints(compileCluster(decodedClusters.get(name)!), compileEndpoints(decodedLas.get(name)!, name));
  const tlsByAddress = Object.fromEntries(compiled.endpoints.map((e) => [e.host, e.tls && { kind: e.tls.kind, auto: e.tls.auto, sni: e.tls.sni, sans: e.tls.sans }]));
  const mesh = { kind: "mesh", auto: true, sni: `outbound_.9080_._.${HOST}`, sans: [SPIFFE("a-reviews"), SPIFFE("reviews"), SPIFFE("vm-reviews")] };
  assert.deepEqual(tlsByAddress, { "10.0.0.5": mesh, "10.0.0.6": undefined, "127.10.1.4": mesh, "127.10.1.5": mesh, "127.10.1.6": mesh });
  // ISTIO_MUTUAL on one port: every endpoint, not chosen by auto mTLS.
  const forced = `outbound|7070||multi.default.svc.cluster.local`;
  const forcedCompiled = withEndpoints(compileCluster(decodedClusters.get(forced)!), compileEndpoints(decodedLas.get(forced)!, forced));
  assert.deepEqual(forcedCompiled.endpoints.map((e) => [e.tls?.kind, e.tls?.auto, e.tls?.alpn]), [["mesh", undefined, ["h2"]]]);
});
