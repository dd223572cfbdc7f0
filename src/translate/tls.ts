// Transport sockets: the TLS a cluster uses towards its endpoints and an inbound filter chain
// uses towards its clients, in Envoy's shapes and with Istio's conventions:
//   - the workload's certificate is SDS secret "default" and the mesh root "ROOTCA", both from
//     the "sds-grpc" source (istio-agent's role; the Mizzen proxy serves them in-process);
//   - ISTIO_MUTUAL checks the server's SPIFFE ID against the service accounts the control
//     plane knows for the destination;
//   - auto mTLS: without a DestinationRule tls setting, endpoints labelled tlsMode "istio"
//     (they run a sidecar) get mTLS and the rest plaintext, chosen per endpoint.
import type { CertificateValidationContext, Cluster, CommonTlsContext, ConfigSource, SdsSecretConfig, TransportSocket } from "../xds/envoy-types.ts";
import { TYPE } from "../xds/envoy-types.ts";
import { obj, str, strs, type Obj } from "../registry/read-spec.ts";

export const TLS_SOCKET = "envoy.transport_sockets.tls";
export const SDS_CLUSTER = "sds-grpc";
export const WORKLOAD_SECRET = "default";
export const ROOT_SECRET = "ROOTCA";

const SDS_SOURCE: ConfigSource = {
  api_config_source: { api_type: "GRPC", transport_api_version: "V3", set_node_on_first_message_only: true, grpc_services: [{ envoy_grpc: { cluster_name: SDS_CLUSTER } }] },
  initial_fetch_timeout: { seconds: 0 },
  resource_api_version: "V3",
};

function sds(name: string): SdsSecretConfig {
  return { name, sds_config: SDS_SOURCE };
}

/** The SPIFFE ID of a service account, as certificates carry it. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function meshContext(sans: readonly string[], alpn: readonly string[]): CommonTlsContext {
  const validation: CertificateValidationContext = sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {};
  return {
    tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
    tls_certificate_sds_secret_configs: [sds(WORKLOAD_SECRET)],
    combined_validation_context: { default_validation_context: validation, validation_context_sds_secret_config: sds(ROOT_SECRET) },
    ...(alpn.length ? { alpn_protocols: [...alpn] } : {}),
  };
}

/** Client side of mesh mTLS: our certificate, the mesh root, and the SANs the server must have. */
export function istioMutualUpstream(sans: readonly string[], sni: string, http2: boolean): TransportSocket {
  return {
    name: TLS_SOCKET,
    typed_config: { "@type": TYPE.upstreamTls, common_tls_context: meshContext(sans, http2 ? ["h2"] : ["http/1.1"]), sni },
  };
}

/** Server side of mesh mTLS on an inbound port: a client certificate from the mesh is required. */
export function istioMutualDownstream(): TransportSocket {
  return {
    name: TLS_SOCKET,
    typed_config: { "@type": TYPE.downstreamTls, common_tls_context: meshContext([], ["h2", "http/1.1"]), require_client_certificate: { value: true } },
  };
}

/** Istio's SNI for mesh traffic: outbound_.<port>_.<subset>_.<host>. */
export function istioSni(port: number, subset: string, hostname: string): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

/**
 * DestinationRule tls SIMPLE / MUTUAL (origination to a server outside the mesh): files named
 * by the rule, SNI and SANs as given. Returns undefined for a mode this function does not own.
 */
export function originationUpstream(tls: Obj, http2: boolean): TransportSocket | undefined {
  const mode = str(tls.mode);
  if (mode !== "SIMPLE" && mode !== "MUTUAL") return undefined;
  const validation: CertificateValidationContext = {};
  const ca = str(tls.caCertificates);
  if (ca) validation.trusted_ca = { filename: ca };
  const sans = strs(tls.subjectAltNames);
  if (sans.length) validation.match_subject_alt_names = sans.map((exact) => ({ exact }));
  const common: CommonTlsContext = { tls_params: { tls_minimum_protocol_version: "TLSv1_2" }, alpn_protocols: http2 ? ["h2"] : ["http/1.1"] };
  if (Object.keys(validation).length) common.validation_context = validation;
  if (mode === "MUTUAL") {
    const cert = str(tls.clientCertificate);
    const key = str(tls.privateKey);
    if (cert && key) common.tls_certificates = [{ certificate_chain: { filename: cert }, private_key: { filename: key } }];
  }
  const sni = str(tls.sni);
  return { name: TLS_SOCKET, typed_config: { "@type": TYPE.upstreamTls, common_tls_context: common, ...(sni ? { sni } : {}) } };
}

export interface UpstreamTlsInput {
  /** The merged DestinationRule tls block for this cluster, if any. */
  tls: Obj | undefined;
  /** SPIFFE IDs of the destination's workloads (sorted). */
  sans: readonly string[];
  sni: string;
  http2: boolean;
}

/** Sets transport_socket or transport_socket_matches on `c` as Istio would; plaintext sets nothing. */
export function applyUpstreamTls(c: Cluster, input: UpstreamTlsInput): void {
  const mode = str(obj(input.tls)?.mode);
  if (mode === "DISABLE") return;
  if (mode === "ISTIO_MUTUAL") {
    c.transport_socket = istioMutualUpstream(input.sans, input.sni, input.http2);
    return;
  }
  if (mode === "SIMPLE" || mode === "MUTUAL") {
    const socket = originationUpstream(input.tls!, input.http2);
    if (socket) c.transport_socket = socket;
    return;
  }
  c.transport_socket_matches = [
    { name: "tlsMode-istio", match: { fields: { tlsMode: { string_value: "istio" } } }, transport_socket: istioMutualUpstream(input.sans, input.sni, input.http2) },
    { name: "tlsMode-disabled", match: { fields: {} }, transport_socket: { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": TYPE.rawBuffer } } },
  ];
}
