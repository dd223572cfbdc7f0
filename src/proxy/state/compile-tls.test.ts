// TLS in compiled clusters and listeners: per-endpoint transport sockets (Envoy's
// transport_socket_matches), filter chains by transport protocol, and the NACKs (with field
// paths) for what this proxy cannot honour. Resources are Envoy's, built by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Cluster, CommonTlsContext, ConfigSource, FilterChain, Listener, TransportSocket } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import { tempDir } from "../../ca/test-kit.ts";
import { cla, edsCluster, hcmListener, routeConfig, toCluster, vhost } from "../test-kit.ts";
import { compileCluster } from "./compile-cluster.ts";
import { compileListener, selectFilterChain } from "./compile-listener.ts";
import { ProxyState } from "./proxy-state.ts";
import type { CompiledCluster, EndpointAddress } from "./types.ts";

const SDS: ConfigSource = { api_config_source: { api_type: "GRPC", grpc_services: [{ envoy_grpc: { cluster_name: "sds-grpc" } }] } };
const ISTIO = { fields: { tlsMode: { string_value: "istio" } } };
const RAW: TransportSocket = { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": TYPE.rawBuffer } };

function mesh(sni: string, over: Partial<CommonTlsContext> = {}): TransportSocket {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": TYPE.upstreamTls,
      sni,
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }],
        combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ exact: `spiffe://cluster.local/ns/default/sa/${sni}` }] }, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
        ...over,
      },
    },
  };
}

function downstreamMesh(over: Partial<CommonTlsContext> = {}): TransportSocket {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": TYPE.downstreamTls,
      require_client_certificate: { value: true },
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }],
        combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
        alpn_protocols: ["h2", "http/1.1"],
        ...over,
      },
    },
  };
}

/** A STATIC cluster whose endpoints carry the given transport_socket_match metadata. */
function staticCluster(metadata: (Record<string, string> | undefined)[], extra: Partial<Cluster> = {}): Cluster {
  const la = cla("c", metadata.map((_, i) => ({ port: 1000 + i })));
  la.endpoints[0]!.lb_endpoints.forEach((ep, i) => {
    const md = metadata[i];
    if (md) ep.metadata = { filter_metadata: { "envoy.transport_socket_match": { fields: Object.fromEntries(Object.entries(md).map(([k, v]) => [k, { string_value: v }])) } } };
  });
  return { name: "c", type: "STATIC", load_assignment: la, ...extra };
}

const sniByPort = (c: CompiledCluster) => Object.fromEntries(c.endpoints.map((e: EndpointAddress) => [e.port, e.tls?.sni ?? "plaintext"]));

test("auto mTLS: endpoints labelled tlsMode istio get the mesh socket, the rest plaintext", () => {
  const c = compileCluster(staticCluster([{ tlsMode: "istio" }, undefined, { tlsMode: "disabled" }], {
    transport_socket_matches: [
      { name: "tlsMode-istio", match: ISTIO, transport_socket: mesh("m") },
      { name: "tlsMode-disabled", match: {}, transport_socket: RAW },
    ],
  }));
  assert.deepEqual(sniByPort(c), { 1000: "m", 1001: "plaintext", 1002: "plaintext" });
  assert.equal(c.endpoints[0]!.tls?.auto, true, "chosen by auto mTLS: a proxy without identity may fall back to plaintext");
  assert.deepEqual(c.endpoints[0]!.socketMatch, { tlsMode: "istio" });
  assert.equal(c.tls?.always, undefined);
  assert.equal(c.tls?.matches.length, 2);
});

test("the first matching entry wins; a match is a subset of the endpoint's metadata; no match falls back to transport_socket", () => {
  const c = compileCluster(staticCluster([{ tlsMode: "istio", zone: "a" }, { tlsMode: "istio" }, { zone: "a" }, undefined, { tlsMode: "istio", zone: "b", extra: "x" }], {
    transport_socket_matches: [
      { name: "istio-zone-a", match: { fields: { tlsMode: { string_value: "istio" }, zone: { string_value: "a" } } }, transport_socket: mesh("first") },
      { name: "istio", match: ISTIO, transport_socket: mesh("second") },
      { name: "zone-a-plaintext", match: { fields: { zone: { string_value: "a" } } }, transport_socket: RAW },
    ],
    transport_socket: mesh("fallback"),
  }));
  assert.deepEqual(sniByPort(c), {
    1000: "first", // both keys equal
    1001: "second", // lacks zone: the first entry does not match
    1002: "plaintext", // a raw_buffer entry matched: plaintext even though transport_socket is TLS
    1003: "fallback", // no metadata: no entry matches
    1004: "second", // extra keys on the endpoint do not matter
  });
  assert.equal(c.endpoints[3]!.tls?.auto, undefined, "transport_socket is not auto mTLS");
  // An entry without match (or with an empty one) matches every endpoint.
  const all = compileCluster(staticCluster([undefined, { tlsMode: "istio" }], { transport_socket_matches: [{ name: "all", transport_socket: mesh("any") }], transport_socket: mesh("never") }));
  assert.deepEqual(sniByPort(all), { 1000: "any", 1001: "any" });
});

test("only plaintext sockets, or none: the cluster has no TLS at all", () => {
  assert.equal(compileCluster(staticCluster([{ tlsMode: "istio" }])).tls, undefined);
  const rawOnly = compileCluster(staticCluster([{ tlsMode: "istio" }], { transport_socket_matches: [{ name: "r", match: ISTIO, transport_socket: RAW }], transport_socket: RAW }));
  assert.equal(rawOnly.tls, undefined);
  assert.equal(rawOnly.endpoints[0]!.tls, undefined);
  const always = compileCluster(staticCluster([undefined, { tlsMode: "istio" }], { transport_socket: mesh("all") }));
  assert.deepEqual(sniByPort(always), { 1000: "all", 1001: "all" });
});

test("EDS: endpoints arriving later are resolved against the cluster's sockets, and again when CDS changes", () => {
  const s = new ProxyState();
  const cluster = edsCluster("c", { transport_socket_matches: [{ name: "tlsMode-istio", match: ISTIO, transport_socket: mesh("m") }, { name: "tlsMode-disabled", match: {}, transport_socket: RAW }] });
  const la = cla("c", [{ port: 2000 }, { port: 2001 }]);
  la.endpoints[0]!.lb_endpoints[0]!.metadata = { filter_metadata: { "envoy.transport_socket_match": ISTIO } };
  assert.equal(s.handleResponse(TYPE.cluster, [{ name: "c", resource: cluster }], "1"), null);
  assert.equal(s.handleResponse(TYPE.endpoint, [{ name: "c", resource: la }], "1"), null);
  assert.deepEqual(sniByPort(s.current.clusters.get("c")!), { 2000: "m", 2001: "plaintext" });
  assert.equal(s.handleResponse(TYPE.cluster, [{ name: "c", resource: edsCluster("c", { transport_socket: mesh("forced") }) }], "2"), null);
  assert.deepEqual(sniByPort(s.current.clusters.get("c")!), { 2000: "forced", 2001: "forced" });
  assert.equal(s.handleResponse(TYPE.cluster, [{ name: "c", resource: edsCluster("c") }], "3"), null);
  assert.deepEqual(sniByPort(s.current.clusters.get("c")!), { 2000: "plaintext", 2001: "plaintext" });
});

/** A listener whose only chain is `fc` (with a router), on 127.0.0.1. */
function listenerWith(chains: Partial<FilterChain>[], listenerFilters?: Listener["listener_filters"]): Listener {
  const base = hcmListener("l", { routeConfig: routeConfig("r", [vhost("v", ["*"], [toCluster("c")])]), inbound: true, port: 0 });
  const filters = base.filter_chains![0]!.filters;
  return { ...base, filter_chains: chains.map((c) => ({ filters, ...c })), ...(listenerFilters ? { listener_filters: listenerFilters } : {}) };
}

const NACKS: [string, string, unknown, RegExp][] = [
  ["cluster: an SDS secret this proxy does not serve", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket_matches: [{ name: "m", match: ISTIO, transport_socket: mesh("m", { tls_certificate_sds_secret_configs: [{ name: "spiffe://other", sds_config: SDS }] }) }] },
    /^cluster "c"\.transport_socket_matches\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.name: SDS secret "spiffe:\/\/other" is not available/],
  ["cluster: a root from another SDS source", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket: mesh("m", { combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: { api_config_source: { api_type: "GRPC", grpc_services: [{ envoy_grpc: { cluster_name: "xds-grpc" } }] } } } } }) },
    /^cluster "c"\.transport_socket\.typed_config\.common_tls_context\.combined_validation_context\.validation_context_sds_secret_config\.sds_config: secrets come from the proxy itself: point sds_config at cluster "sds-grpc"/],
  ["cluster: a SAN prefix matcher", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket: mesh("m", { combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ prefix: "spiffe://" }] }, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } } }) },
    /^cluster "c"\.transport_socket\.typed_config\.common_tls_context\.combined_validation_context\.default_validation_context\.match_subject_alt_names\[0\]: only exact SAN matches are supported/],
  ["cluster: TLS 1.0 minimum", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket: mesh("m", { tls_params: { tls_minimum_protocol_version: "TLSv1_0" } }) },
    /^cluster "c"\.transport_socket\.typed_config\.common_tls_context\.tls_params\.tls_minimum_protocol_version: minimum TLS version TLSv1_0 is refused/],
  ["cluster: a number where the match needs a string", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket_matches: [{ name: "m", match: { fields: { weight: { number_value: 3 } } }, transport_socket: mesh("m") }] },
    /^cluster "c"\.transport_socket_matches\[0\]\.match\.weight: only string values can be matched/],
  ["listener: a raw_buffer chain that would terminate TLS", TYPE.listener,
    listenerWith([{ filter_chain_match: { transport_protocol: "raw_buffer" }, transport_socket: downstreamMesh() }]),
    /^listener "l"\.filter_chains\[0\]\.transport_socket: a chain matching transport_protocol "raw_buffer" cannot terminate TLS/],
  ["listener: an unknown transport protocol", TYPE.listener,
    listenerWith([{ filter_chain_match: { transport_protocol: "quic" } }]),
    /^listener "l"\.filter_chains\[0\]\.filter_chain_match\.transport_protocol: "quic" is not a transport protocol \(use "tls" or "raw_buffer"\)/],
  ["listener: an unknown listener filter", TYPE.listener,
    listenerWith([{}], [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } }, { name: "envoy.filters.listener.original_dst", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst" } }]),
    /^listener "l"\.listener_filters\[1\]: listener filter "envoy\.filters\.listener\.original_dst" is not supported by the Mizzen proxy \(only tls_inspector and http_inspector\)/],
  ["listener: an SDS certificate other than default", TYPE.listener,
    listenerWith([{ filter_chain_match: { transport_protocol: "tls" }, transport_socket: downstreamMesh({ tls_certificate_sds_secret_configs: [{ name: "kubernetes://my-cert", sds_config: SDS }] }) }]),
    /^listener "l"\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.name: SDS secret "kubernetes:\/\/my-cert" is not available/],
  ["listener: TLS 1.1 minimum", TYPE.listener,
    listenerWith([{ transport_socket: downstreamMesh({ tls_params: { tls_minimum_protocol_version: "TLSv1_1" } }) }]),
    /^listener "l"\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_params\.tls_minimum_protocol_version: minimum TLS version TLSv1_1 is refused/],
];

test("NACKs name the field and the reason, and the previous snapshot stays", (t) => {
  const dir = tempDir(t, "mizzen-compile-tls-");
  const missing = join(dir, "missing-ca.pem");
  const cases: typeof NACKS = [...NACKS, ["cluster: a CA file that cannot be read", TYPE.cluster,
    { name: "c", type: "STATIC", transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": TYPE.upstreamTls, common_tls_context: { validation_context: { trusted_ca: { filename: missing } } } } } },
    new RegExp(`^cluster "c"\\.transport_socket\\.typed_config\\.common_tls_context\\.validation_context\\.trusted_ca\\.filename: cannot read ${missing.replace(/[.]/g, "\\.")}: ENOENT`)]];
  for (const [what, type, resource, reason] of cases) {
    const s = new ProxyState();
    const good = type === TYPE.cluster ? edsCluster("c") : listenerWith([{}]);
    assert.equal(s.handleResponse(type, [{ name: "x", resource: good }], "1"), null, `${what}: the good version is accepted`);
    const before = s.current;
    const nack = s.handleResponse(type, [{ name: "x", resource }], "2");
    assert.match(nack ?? "(accepted)", reason, what);
    assert.equal(s.current, before, `${what}: the last good snapshot stays`);
    assert.equal(s.lastNack?.version, "2");
  }
});

test("compiled listener: tls_inspector and chains by transport; inspection when any chain needs it", () => {
  const permissive = compileListener(listenerWith([
    { name: "tls", filter_chain_match: { transport_protocol: "tls" }, transport_socket: downstreamMesh() },
    { name: "plaintext", filter_chain_match: { transport_protocol: "raw_buffer" } },
  ], [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TYPE.tlsInspector } }]))!;
  assert.equal(permissive.inspectTls, true);
  assert.deepEqual(permissive.filterChains.map((c) => [c.name, c.transportProtocol, c.tls?.requireClientCert]), [["tls", "tls", true], ["plaintext", "raw_buffer", undefined]]);
  assert.equal(selectFilterChain(permissive, 0, "tls")?.name, "tls");
  assert.equal(selectFilterChain(permissive, 0, "raw_buffer")?.name, "plaintext");
  assert.equal(selectFilterChain(permissive, 0)?.name, "plaintext", "the default transport is raw_buffer");

  const strict = compileListener(listenerWith([{ name: "tls", filter_chain_match: { transport_protocol: "tls" }, transport_socket: downstreamMesh() }]))!;
  assert.equal(strict.inspectTls, true, "a TLS chain alone asks for inspection (tls_inspector is implied)");
  assert.equal(selectFilterChain(strict, 0, "raw_buffer"), undefined, "STRICT: no chain for plaintext");
  const plain = compileListener(listenerWith([{ name: "plaintext" }]))!;
  assert.equal(plain.inspectTls, false);
  assert.equal(selectFilterChain(plain, 0, "tls")?.name, "plaintext", "a chain without transport_protocol takes both");
  // A transport socket given as raw_buffer is plaintext, not TLS.
  assert.equal(compileListener(listenerWith([{ name: "p", transport_socket: RAW }]))!.filterChains[0]!.tls, undefined);
});

test("selectFilterChain: an exact destination port first, then a chain without a port, each only for its transport", () => {
  const l = compileListener(listenerWith([
    { name: "port-tls", filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: "tls" }, transport_socket: downstreamMesh() },
    { name: "port-raw", filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: "raw_buffer" } },
    { name: "any-tls", filter_chain_match: { transport_protocol: "tls" }, transport_socket: downstreamMesh() },
    { name: "any", filter_chain_match: {} },
  ]))!;
  assert.equal(selectFilterChain(l, 9080, "tls")?.name, "port-tls");
  assert.equal(selectFilterChain(l, 9080, "raw_buffer")?.name, "port-raw");
  assert.equal(selectFilterChain(l, 8080, "tls")?.name, "any-tls", "the first port-less chain that accepts TLS");
  assert.equal(selectFilterChain(l, 8080, "raw_buffer")?.name, "any");
});

test("selectFilterChain as Envoy: once a chain names the port, port-less chains are not considered", () => {
  const l = compileListener(listenerWith([
    { name: "port-tls", filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: "tls" }, transport_socket: downstreamMesh() },
    { name: "any", filter_chain_match: {} },
  ]))!;
  assert.equal(selectFilterChain(l, 9080, "raw_buffer")?.name, undefined);
});
