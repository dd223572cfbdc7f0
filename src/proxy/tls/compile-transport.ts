// TransportSocket (Envoy's TLS contexts) -> what the proxy needs at connection time. The
// workload's own certificate and the mesh root are SDS secrets "default" and "ROOTCA" from
// the "sds-grpc" source, which this proxy answers in-process from its identity manager (the
// role istio-agent plays for Envoy). Certificates named by file (DestinationRule SIMPLE /
// MUTUAL origination) are read here, once per config version; a missing file is a NACK.
import { readFileSync } from "node:fs";
import type { CertificateValidationContext, CommonTlsContext, DataSource, SdsSecretConfig, TransportSocket } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import { ConfigInvalid } from "../state/string-match.ts";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface CompiledUpstreamTls {
  /** "mesh": the workload certificate and mesh root (ISTIO_MUTUAL); "files": certificates from files. */
  kind: "mesh" | "files";
  sni: string | undefined;
  /** Exact SANs (URI or DNS) the server must present one of; empty = any certificate the roots accept. */
  sans: readonly string[];
  alpn: readonly string[];
  minVersion: TlsVersion;
  /** kind "files": PEM text read from the named files (ca undefined = the system's roots). */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** Same settings, same key: contexts are cached by it. */
  cacheKey: string;
  /** Chosen by auto mTLS (a transport_socket_matches entry), not demanded by a DestinationRule. */
  auto?: boolean;
}

export interface CompiledDownstreamTls {
  requireClientCert: boolean;
  alpn: readonly string[];
  minVersion: TlsVersion;
}

const TLS_NAMES = new Set(["envoy.transport_sockets.tls", "tls"]);
const RAW_NAMES = new Set(["envoy.transport_sockets.raw_buffer", "raw_buffer"]);
const SDS_SOURCE_CLUSTER = "sds-grpc";

/** True when the socket is plaintext (absent or raw_buffer). */
export function isRawBuffer(ts: TransportSocket | undefined): boolean {
  if (!ts) return true;
  const type = ts.typed_config?.["@type"];
  return type === TYPE.rawBuffer || (type === undefined && RAW_NAMES.has(ts.name));
}

function version(v: string | undefined, field: string): TlsVersion {
  if (v === undefined || v === "TLS_AUTO" || v === "TLSv1_2") return "TLSv1.2";
  if (v === "TLSv1_3") return "TLSv1.3";
  throw new ConfigInvalid(field, `minimum TLS version ${v} is refused: the mesh needs TLS 1.2 or newer`);
}

function checkSds(s: SdsSecretConfig | undefined, expected: string, field: string): void {
  if (!s) return;
  if (s.name !== expected) throw new ConfigInvalid(`${field}.name`, `SDS secret "${s.name}" is not available: this proxy serves only its own certificate ("default") and the mesh root ("ROOTCA")`);
  const cluster = s.sds_config?.api_config_source?.grpc_services?.[0]?.envoy_grpc?.cluster_name;
  if (s.sds_config && !s.sds_config.ads && cluster !== SDS_SOURCE_CLUSTER) {
    throw new ConfigInvalid(`${field}.sds_config`, `secrets come from the proxy itself: point sds_config at cluster "${SDS_SOURCE_CLUSTER}" (as Istio does)`);
  }
}

function sansOf(v: CertificateValidationContext | undefined, field: string): string[] {
  const out: string[] = [];
  (v?.match_subject_alt_names ?? []).forEach((m, i) => {
    if (typeof m?.exact !== "string") throw new ConfigInvalid(`${field}.match_subject_alt_names[${i}]`, "only exact SAN matches are supported");
    out.push(m.exact);
  });
  (v?.match_typed_subject_alt_names ?? []).forEach((m, i) => {
    if (typeof m?.matcher?.exact !== "string") throw new ConfigInvalid(`${field}.match_typed_subject_alt_names[${i}]`, "only exact SAN matches are supported");
    out.push(m.matcher.exact);
  });
  return out;
}

function readSource(d: DataSource | undefined, field: string): string | undefined {
  if (!d) return undefined;
  if (typeof d.inline_string === "string") return d.inline_string;
  if (typeof d.inline_bytes === "string") return Buffer.from(d.inline_bytes, "base64").toString("utf8");
  if (typeof d.filename === "string") {
    try {
      return readFileSync(d.filename, "utf8");
    } catch (e) {
      throw new ConfigInvalid(`${field}.filename`, `cannot read ${d.filename}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (mount the file where the DestinationRule says, or fix the path)`);
    }
  }
  return undefined;
}

function common(ts: TransportSocket, expected: string, field: string): CommonTlsContext {
  const type = ts.typed_config?.["@type"];
  if (!TLS_NAMES.has(ts.name) && type === undefined) throw new ConfigInvalid(`${field}.name`, `transport socket "${ts.name}" is not supported (use envoy.transport_sockets.tls or raw_buffer)`);
  if (type !== expected) throw new ConfigInvalid(`${field}.typed_config`, `expected ${expected.slice(expected.lastIndexOf(".") + 1)}, got ${String(type)}`);
  return ((ts.typed_config as { common_tls_context?: CommonTlsContext }).common_tls_context ?? {}) as CommonTlsContext;
}

export function compileUpstreamTls(ts: TransportSocket, field: string): CompiledUpstreamTls {
  const c = common(ts, TYPE.upstreamTls, field);
  const f = `${field}.typed_config.common_tls_context`;
  const sni = (ts.typed_config as { sni?: string }).sni || undefined;
  const alpn = c.alpn_protocols ?? [];
  const minVersion = version(c.tls_params?.tls_minimum_protocol_version, `${f}.tls_params.tls_minimum_protocol_version`);
  const sdsCerts = c.tls_certificate_sds_secret_configs ?? [];
  let out: Omit<CompiledUpstreamTls, "cacheKey">;
  if (sdsCerts.length > 0 || c.combined_validation_context || c.validation_context_sds_secret_config) {
    sdsCerts.forEach((s, i) => checkSds(s, "default", `${f}.tls_certificate_sds_secret_configs[${i}]`));
    checkSds(c.combined_validation_context?.validation_context_sds_secret_config ?? c.validation_context_sds_secret_config, "ROOTCA", `${f}.combined_validation_context.validation_context_sds_secret_config`);
    const sans = sansOf(c.combined_validation_context?.default_validation_context, `${f}.combined_validation_context.default_validation_context`);
    out = { kind: "mesh", sni, sans, alpn, minVersion, ca: undefined, cert: undefined, key: undefined };
  } else {
    const pair = c.tls_certificates?.[0];
    const cert = readSource(pair?.certificate_chain, `${f}.tls_certificates[0].certificate_chain`);
    const key = readSource(pair?.private_key, `${f}.tls_certificates[0].private_key`);
    if ((cert === undefined) !== (key === undefined)) throw new ConfigInvalid(`${f}.tls_certificates[0]`, "a client certificate needs both certificate_chain and private_key");
    const ca = readSource(c.validation_context?.trusted_ca, `${f}.validation_context.trusted_ca`);
    out = { kind: "files", sni, sans: sansOf(c.validation_context, `${f}.validation_context`), alpn, minVersion, ca, cert, key };
  }
  return { ...out, cacheKey: JSON.stringify([out.kind, out.sni, out.sans, out.alpn, out.minVersion, out.ca, out.cert, out.key]) };
}

export function compileDownstreamTls(ts: TransportSocket, field: string): CompiledDownstreamTls {
  const c = common(ts, TYPE.downstreamTls, field);
  const f = `${field}.typed_config.common_tls_context`;
  const certs = c.tls_certificate_sds_secret_configs ?? [];
  if (certs.length === 0) throw new ConfigInvalid(`${f}.tls_certificate_sds_secret_configs`, 'a server needs a certificate: name the SDS secret "default"');
  certs.forEach((s, i) => checkSds(s, "default", `${f}.tls_certificate_sds_secret_configs[${i}]`));
  if (c.tls_certificates?.length) throw new ConfigInvalid(`${f}.tls_certificates`, "inbound certificates from files are not supported on a sidecar; use the SDS secret \"default\"");
  checkSds(c.combined_validation_context?.validation_context_sds_secret_config ?? c.validation_context_sds_secret_config, "ROOTCA", `${f}.combined_validation_context.validation_context_sds_secret_config`);
  return {
    requireClientCert: (ts.typed_config as { require_client_certificate?: { value?: boolean } }).require_client_certificate?.value === true,
    alpn: c.alpn_protocols ?? [],
    minVersion: version(c.tls_params?.tls_minimum_protocol_version, `${f}.tls_params.tls_minimum_protocol_version`),
  };
}
