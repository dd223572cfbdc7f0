import { test } from "node:test";
import assert from "node:assert/strict";
import type { Cluster, CommonTlsContext, TransportSocket } from "../xds/envoy-types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { decodeResource, encodeResource } from "../xds/protos.ts";
import {
  applyUpstreamTls, istioMutualDownstream, istioMutualUpstream, istioSni, originationUpstream, ROOT_SECRET, SDS_CLUSTER, spiffeId, TLS_SOCKET, WORKLOAD_SECRET,
} from "./tls.ts";

const SANS = ["spiffe://cluster.local/ns/default/sa/reviews", "spiffe://cluster.local/ns/default/sa/reviews-v2"];
const SNI = "outbound_.9080_._.reviews.default.svc.cluster.local";

function common(ts: TransportSocket | undefined): CommonTlsContext {
  assert.ok(ts, "a transport socket");
  assert.equal(ts.name, TLS_SOCKET);
  return (ts.typed_config as { common_tls_context: CommonTlsContext }).common_tls_context;
}

/** Encodes the socket inside a cluster through Envoy's protos and decodes it again. */
function roundTrip(ts: TransportSocket): TransportSocket {
  const c: Cluster = { name: "c", transport_socket: ts };
  return (decodeResource(encodeResource(TYPE.cluster, c)) as Cluster).transport_socket!;
}

test("names as Istio writes them: SPIFFE IDs and the outbound SNI", () => {
  assert.equal(spiffeId("cluster.local", "bookinfo", "reviews"), "spiffe://cluster.local/ns/bookinfo/sa/reviews");
  assert.equal(spiffeId("example.org", "a", "b"), "spiffe://example.org/ns/a/sa/b");
  assert.equal(istioSni(9080, "", "reviews.default.svc.cluster.local"), SNI);
  assert.equal(istioSni(9080, "v2", "reviews.default.svc.cluster.local"), "outbound_.9080_.v2_.reviews.default.svc.cluster.local");
});

test("ISTIO_MUTUAL upstream: SDS 'default' and 'ROOTCA' from sds-grpc, exact SANs, SNI, ALPN per protocol", () => {
  const ts = istioMutualUpstream(SANS, SNI, false);
  const tc = ts.typed_config as { "@type": string; sni: string };
  assert.equal(tc["@type"], TYPE.upstreamTls);
  assert.equal(tc.sni, SNI);
  const c = common(ts);
  assert.deepEqual(c.tls_params, { tls_minimum_protocol_version: "TLSv1_2" });
  assert.deepEqual(c.tls_certificate_sds_secret_configs?.map((s) => s.name), [WORKLOAD_SECRET]);
  assert.equal(c.combined_validation_context?.validation_context_sds_secret_config.name, ROOT_SECRET);
  for (const s of [c.tls_certificate_sds_secret_configs![0]!, c.combined_validation_context!.validation_context_sds_secret_config]) {
    const api = s.sds_config?.api_config_source;
    assert.equal(api?.api_type, "GRPC");
    assert.deepEqual(api?.grpc_services.map((g) => g.envoy_grpc.cluster_name), [SDS_CLUSTER]);
    assert.equal(s.sds_config?.resource_api_version, "V3");
  }
  assert.deepEqual(c.combined_validation_context?.default_validation_context, { match_subject_alt_names: SANS.map((exact) => ({ exact })) });
  assert.deepEqual(c.alpn_protocols, ["http/1.1"]);
  assert.deepEqual(common(istioMutualUpstream(SANS, SNI, true)).alpn_protocols, ["h2"]);
  assert.equal(WORKLOAD_SECRET, "default");
  assert.equal(ROOT_SECRET, "ROOTCA");
  assert.equal(SDS_CLUSTER, "sds-grpc");
});

test("ISTIO_MUTUAL upstream without known service accounts checks no SAN (any mesh certificate)", () => {
  const c = common(istioMutualUpstream([], SNI, false));
  assert.deepEqual(c.combined_validation_context?.default_validation_context, {});
});

test("downstream (inbound) mesh TLS: our certificate, the mesh root, a client certificate required, h2 and http/1.1", () => {
  const ts = istioMutualDownstream();
  const tc = ts.typed_config as { "@type": string; require_client_certificate: { value: boolean } };
  assert.equal(tc["@type"], TYPE.downstreamTls);
  assert.deepEqual(tc.require_client_certificate, { value: true });
  const c = common(ts);
  assert.deepEqual(c.tls_certificate_sds_secret_configs?.map((s) => s.name), ["default"]);
  assert.equal(c.combined_validation_context?.validation_context_sds_secret_config.name, "ROOTCA");
  assert.deepEqual(c.combined_validation_context?.default_validation_context, {}, "a server does not pin client SANs; authorization does");
  assert.deepEqual(c.alpn_protocols, ["h2", "http/1.1"]);
});

test("SIMPLE origination: CA file, SNI and SANs as the DestinationRule gives them", () => {
  const ts = originationUpstream({ mode: "SIMPLE", caCertificates: "/etc/certs/ca.pem", sni: "api.example.com", subjectAltNames: ["api.example.com", "spiffe://x/ns/y/sa/z"] }, false)!;
  const tc = ts.typed_config as { "@type": string; sni?: string };
  assert.equal(tc["@type"], TYPE.upstreamTls);
  assert.equal(tc.sni, "api.example.com");
  const c = common(ts);
  assert.deepEqual(c.validation_context, { trusted_ca: { filename: "/etc/certs/ca.pem" }, match_subject_alt_names: [{ exact: "api.example.com" }, { exact: "spiffe://x/ns/y/sa/z" }] });
  assert.equal(c.tls_certificates, undefined, "SIMPLE presents no client certificate");
  assert.equal(c.tls_certificate_sds_secret_configs, undefined, "never the workload certificate");
  assert.deepEqual(c.alpn_protocols, ["http/1.1"]);
  assert.deepEqual(c.tls_params, { tls_minimum_protocol_version: "TLSv1_2" });
});

test("SIMPLE with nothing else: the system's roots, no SNI, no SANs", () => {
  const ts = originationUpstream({ mode: "SIMPLE" }, true)!;
  assert.equal((ts.typed_config as { sni?: string }).sni, undefined);
  const c = common(ts);
  assert.equal(c.validation_context, undefined);
  assert.deepEqual(c.alpn_protocols, ["h2"]);
});

test("MUTUAL origination: client certificate and key from files; both are needed", () => {
  const c = common(originationUpstream({ mode: "MUTUAL", clientCertificate: "/c/cert.pem", privateKey: "/c/key.pem", caCertificates: "/c/ca.pem" }, false));
  assert.deepEqual(c.tls_certificates, [{ certificate_chain: { filename: "/c/cert.pem" }, private_key: { filename: "/c/key.pem" } }]);
  assert.deepEqual(c.validation_context, { trusted_ca: { filename: "/c/ca.pem" } });
  assert.equal(common(originationUpstream({ mode: "MUTUAL", clientCertificate: "/c/cert.pem" }, false)).tls_certificates, undefined);
});

test("originationUpstream owns SIMPLE and MUTUAL only", () => {
  for (const mode of ["DISABLE", "ISTIO_MUTUAL", undefined, "simple"]) assert.equal(originationUpstream({ mode }, false), undefined, String(mode));
});

test("applyUpstreamTls: each DestinationRule mode, and auto mTLS without one", () => {
  const input = { sans: SANS, sni: SNI, http2: false };
  const disabled: Cluster = { name: "c" };
  applyUpstreamTls(disabled, { ...input, tls: { mode: "DISABLE" } });
  assert.deepEqual(disabled, { name: "c" }, "DISABLE: plaintext, and no auto mTLS either");

  const mutual: Cluster = { name: "c" };
  applyUpstreamTls(mutual, { ...input, tls: { mode: "ISTIO_MUTUAL" } });
  assert.deepEqual(mutual.transport_socket, istioMutualUpstream(SANS, SNI, false));
  assert.equal(mutual.transport_socket_matches, undefined);

  const simple: Cluster = { name: "c" };
  applyUpstreamTls(simple, { ...input, tls: { mode: "SIMPLE", sni: "x.example" } });
  assert.equal((simple.transport_socket?.typed_config as { sni?: string }).sni, "x.example", "the rule's SNI, not Istio's outbound_ name");
  assert.equal(common(simple.transport_socket).tls_certificate_sds_secret_configs, undefined);

  const mtlsFiles: Cluster = { name: "c" };
  applyUpstreamTls(mtlsFiles, { ...input, tls: { mode: "MUTUAL", clientCertificate: "/a", privateKey: "/b" } });
  assert.equal(common(mtlsFiles.transport_socket).tls_certificates?.length, 1);

  for (const tls of [undefined, {}, { sni: "ignored" }]) {
    const auto: Cluster = { name: "c" };
    applyUpstreamTls(auto, { ...input, tls });
    assert.equal(auto.transport_socket, undefined, "auto mTLS decides per endpoint");
    assert.deepEqual(auto.transport_socket_matches?.map((m) => m.name), ["tlsMode-istio", "tlsMode-disabled"]);
    const [istio, plain] = auto.transport_socket_matches!;
    assert.deepEqual(istio!.match, { fields: { tlsMode: { string_value: "istio" } } });
    assert.deepEqual(istio!.transport_socket, istioMutualUpstream(SANS, SNI, false));
    assert.deepEqual(plain!.match, { fields: {} }, "matches every other endpoint");
    assert.deepEqual(plain!.transport_socket, { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": TYPE.rawBuffer } });
  }
});

test("every socket encodes through Envoy's protos and decodes to the same object", () => {
  const sockets: [string, TransportSocket][] = [
    ["istio upstream", istioMutualUpstream(SANS, SNI, true)],
    ["istio upstream without SANs", istioMutualUpstream([], SNI, false)],
    ["simple", originationUpstream({ mode: "SIMPLE", caCertificates: "/ca.pem", sni: "a.example", subjectAltNames: ["a.example"] }, false)!],
    ["mutual", originationUpstream({ mode: "MUTUAL", clientCertificate: "/c", privateKey: "/k" }, true)!],
  ];
  for (const [what, ts] of sockets) assert.deepEqual(roundTrip(ts), JSON.parse(JSON.stringify(ts)), what);
  const auto: Cluster = { name: "c" };
  applyUpstreamTls(auto, { tls: undefined, sans: SANS, sni: SNI, http2: false });
  const decoded = decodeResource(encodeResource(TYPE.cluster, auto)) as Cluster;
  // protobufjs leaves out an empty Struct's map; the match still matches every endpoint.
  assert.deepEqual(decoded.transport_socket_matches?.[0], auto.transport_socket_matches![0]);
  assert.deepEqual(Object.keys(decoded.transport_socket_matches?.[1]?.match?.fields ?? {}), []);
  // The downstream context goes into a listener's filter chain.
  const listener = {
    name: "l",
    address: { socket_address: { address: "127.0.0.1", port_value: 1 } },
    filter_chains: [{ filters: [], transport_socket: istioMutualDownstream() }],
  };
  const back = decodeResource(encodeResource(TYPE.listener, listener));
  assert.deepEqual(back.filter_chains[0].transport_socket, JSON.parse(JSON.stringify(istioMutualDownstream())));
});
