// Envoy TLS transport sockets -> what the proxy uses at connection time; every refusal names
// the field and the fix. Sockets are built by hand in Envoy's shape (the proxy never sees Istio).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CommonTlsContext, ConfigSource, TransportSocket } from "../../xds/envoy-types.ts";
import { TYPE } from "../../xds/envoy-types.ts";
import { tempDir } from "../../ca/test-kit.ts";
import { ConfigInvalid } from "../state/string-match.ts";
import { compileDownstreamTls, compileUpstreamTls, isRawBuffer } from "./compile-transport.ts";

const SDS: ConfigSource = { api_config_source: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "sds-grpc" } }] }, resource_api_version: "V3" };
const ID = "spiffe://cluster.local/ns/default/sa/reviews";

function meshCommon(over: Partial<CommonTlsContext> = {}): CommonTlsContext {
  return {
    tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
    tls_certificate_sds_secret_configs: [{ name: "default", sds_config: SDS }],
    combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ exact: ID }] }, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
    alpn_protocols: ["h2"],
    ...over,
  };
}

function upstream(common: CommonTlsContext, sni?: string): TransportSocket {
  return { name: "envoy.transport_sockets.tls", typed_config: { "@type": TYPE.upstreamTls, common_tls_context: common, ...(sni ? { sni } : {}) } };
}

function downstream(common: CommonTlsContext, requireClient = true): TransportSocket {
  return { name: "envoy.transport_sockets.tls", typed_config: { "@type": TYPE.downstreamTls, common_tls_context: common, require_client_certificate: { value: requireClient } } };
}

/** Asserts compile throws ConfigInvalid at exactly `field` with a reason matching `reason`. */
function refused(fn: () => unknown, field: string, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigInvalid, String(e));
    assert.equal(e.field, field);
    assert.match(e.message, reason);
    assert.ok(e.message.startsWith(`${field}: `), "the message starts with the field path");
    return true;
  });
}

const F = 'cluster "c".transport_socket';
const CTX = `${F}.typed_config.common_tls_context`;

test("isRawBuffer: absent, raw_buffer by name or by type are plaintext; TLS is not", () => {
  assert.equal(isRawBuffer(undefined), true);
  assert.equal(isRawBuffer({ name: "envoy.transport_sockets.raw_buffer" }), true);
  assert.equal(isRawBuffer({ name: "raw_buffer" }), true);
  assert.equal(isRawBuffer({ name: "anything", typed_config: { "@type": TYPE.rawBuffer } }), true);
  assert.equal(isRawBuffer(upstream(meshCommon())), false);
  assert.equal(isRawBuffer({ name: "envoy.transport_sockets.tls" }), false);
});

test("mesh upstream (Istio's ISTIO_MUTUAL): SDS secrets, SANs, SNI, ALPN, TLS 1.2 minimum", () => {
  const u = compileUpstreamTls(upstream(meshCommon(), "outbound_.9080_._.reviews.default.svc.cluster.local"), F);
  assert.equal(u.kind, "mesh");
  assert.equal(u.sni, "outbound_.9080_._.reviews.default.svc.cluster.local");
  assert.deepEqual(u.sans, [ID]);
  assert.deepEqual(u.alpn, ["h2"]);
  assert.equal(u.minVersion, "TLSv1.2");
  assert.equal(u.ca, undefined);
  assert.equal(u.cert, undefined);
  // Typed SAN matchers (Envoy's newer field) count too; TLS_AUTO and 1.3 are fine.
  const typed = compileUpstreamTls(upstream(meshCommon({
    tls_params: { tls_minimum_protocol_version: "TLSv1_3" },
    combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: ID } }] }, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS } },
  })), F);
  assert.deepEqual(typed.sans, [ID]);
  assert.equal(typed.minVersion, "TLSv1.3");
  assert.equal(compileUpstreamTls(upstream(meshCommon({ tls_params: { tls_minimum_protocol_version: "TLS_AUTO" } })), F).minVersion, "TLSv1.2");
  assert.equal(compileUpstreamTls(upstream(meshCommon({ tls_params: undefined })), F).minVersion, "TLSv1.2");
  // SDS over ADS, or without a source (bootstrap secrets), is the proxy itself too.
  assert.equal(compileUpstreamTls(upstream(meshCommon({ tls_certificate_sds_secret_configs: [{ name: "default", sds_config: { ads: {} } }] })), F).kind, "mesh");
  assert.equal(compileUpstreamTls(upstream(meshCommon({ tls_certificate_sds_secret_configs: [{ name: "default" }] })), F).kind, "mesh");
});

test("the cache key is equal exactly when the settings are", () => {
  const a = compileUpstreamTls(upstream(meshCommon(), "sni-a"), F);
  assert.equal(compileUpstreamTls(upstream(meshCommon(), "sni-a"), F).cacheKey, a.cacheKey);
  assert.notEqual(compileUpstreamTls(upstream(meshCommon(), "sni-b"), F).cacheKey, a.cacheKey);
  assert.notEqual(compileUpstreamTls(upstream(meshCommon({ alpn_protocols: ["http/1.1"] }), "sni-a"), F).cacheKey, a.cacheKey);
});

test("refused SDS secrets: another name, or a source other than the proxy's sds-grpc", () => {
  refused(() => compileUpstreamTls(upstream(meshCommon({ tls_certificate_sds_secret_configs: [{ name: "file-cert:/etc/certs/cert.pem", sds_config: SDS }] })), F),
    `${CTX}.tls_certificate_sds_secret_configs[0].name`, /SDS secret "file-cert:\/etc\/certs\/cert\.pem" is not available.*"default".*"ROOTCA"/);
  refused(() => compileUpstreamTls(upstream(meshCommon({ combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: "default", sds_config: SDS } } })), F),
    `${CTX}.combined_validation_context.validation_context_sds_secret_config.name`, /SDS secret "default" is not available/);
  const elsewhere: ConfigSource = { api_config_source: { api_type: "GRPC", grpc_services: [{ envoy_grpc: { cluster_name: "spire-agent" } }] } };
  refused(() => compileUpstreamTls(upstream(meshCommon({ tls_certificate_sds_secret_configs: [{ name: "default", sds_config: elsewhere }] })), F),
    `${CTX}.tls_certificate_sds_secret_configs[0].sds_config`, /point sds_config at cluster "sds-grpc"/);
  refused(() => compileDownstreamTls(downstream(meshCommon({ combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: "ROOTCA", sds_config: elsewhere } } })), "l.fc"),
    "l.fc.typed_config.common_tls_context.combined_validation_context.validation_context_sds_secret_config.sds_config", /sds-grpc/);
});

test("SAN matchers other than exact are refused, at their index", () => {
  const withSans = (m: object[], typed = false): CommonTlsContext => meshCommon({
    combined_validation_context: {
      default_validation_context: typed ? { match_typed_subject_alt_names: m as never } : { match_subject_alt_names: m as never },
      validation_context_sds_secret_config: { name: "ROOTCA", sds_config: SDS },
    },
  });
  refused(() => compileUpstreamTls(upstream(withSans([{ exact: ID }, { prefix: "spiffe://cluster.local/" }])), F),
    `${CTX}.combined_validation_context.default_validation_context.match_subject_alt_names[1]`, /only exact SAN matches/);
  refused(() => compileUpstreamTls(upstream(withSans([{ san_type: "DNS", matcher: { suffix: ".example.com" } }], true)), F),
    `${CTX}.combined_validation_context.default_validation_context.match_typed_subject_alt_names[0]`, /only exact SAN matches/);
  // The same rule for origination from files.
  refused(() => compileUpstreamTls(upstream({ validation_context: { match_subject_alt_names: [{ contains: "example" }] } }), F),
    `${CTX}.validation_context.match_subject_alt_names[0]`, /only exact/);
});

test("TLS 1.0 and 1.1 minimums are refused on both sides", () => {
  for (const v of ["TLSv1_0", "TLSv1_1"] as const) {
    refused(() => compileUpstreamTls(upstream(meshCommon({ tls_params: { tls_minimum_protocol_version: v } })), F),
      `${CTX}.tls_params.tls_minimum_protocol_version`, new RegExp(`${v} is refused: the mesh needs TLS 1\\.2 or newer`));
    refused(() => compileDownstreamTls(downstream(meshCommon({ tls_params: { tls_minimum_protocol_version: v } })), "fc"),
      "fc.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version", /TLS 1\.2 or newer/);
  }
});

test("wrong socket types: an unknown socket name, a downstream context on a cluster, an upstream one on a listener", () => {
  refused(() => compileUpstreamTls({ name: "envoy.transport_sockets.alts" }, F), `${F}.name`, /transport socket "envoy.transport_sockets.alts" is not supported/);
  refused(() => compileUpstreamTls(downstream(meshCommon()), F), `${F}.typed_config`, /expected UpstreamTlsContext, got .*DownstreamTlsContext/);
  refused(() => compileDownstreamTls(upstream(meshCommon()), "fc"), "fc.typed_config", /expected DownstreamTlsContext/);
  refused(() => compileUpstreamTls({ name: "envoy.transport_sockets.tls" }, F), `${F}.typed_config`, /expected UpstreamTlsContext, got undefined/);
});

test("origination from files: PEM read once at compile time, inline sources, SNI, SANs", (t) => {
  const dir = tempDir(t, "mizzen-tls-files-");
  writeFileSync(join(dir, "ca.pem"), "CA PEM");
  writeFileSync(join(dir, "cert.pem"), "CERT PEM");
  writeFileSync(join(dir, "key.pem"), "KEY PEM");
  const u = compileUpstreamTls(upstream({
    tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
    tls_certificates: [{ certificate_chain: { filename: join(dir, "cert.pem") }, private_key: { filename: join(dir, "key.pem") } }],
    validation_context: { trusted_ca: { filename: join(dir, "ca.pem") }, match_subject_alt_names: [{ exact: "api.example.com" }] },
    alpn_protocols: ["http/1.1"],
  }, "api.example.com"), F);
  assert.deepEqual({ kind: u.kind, ca: u.ca, cert: u.cert, key: u.key, sni: u.sni, sans: u.sans, alpn: u.alpn }, {
    kind: "files", ca: "CA PEM", cert: "CERT PEM", key: "KEY PEM", sni: "api.example.com", sans: ["api.example.com"], alpn: ["http/1.1"],
  });
  const inline = compileUpstreamTls(upstream({ validation_context: { trusted_ca: { inline_string: "INLINE CA" } }, tls_certificates: [{ certificate_chain: { inline_bytes: Buffer.from("B64 CERT").toString("base64") }, private_key: { inline_string: "K" } }] }), F);
  assert.deepEqual([inline.ca, inline.cert, inline.key], ["INLINE CA", "B64 CERT", "K"]);
  const systemRoots = compileUpstreamTls(upstream({}), F);
  assert.deepEqual([systemRoots.kind, systemRoots.ca, systemRoots.cert, systemRoots.sni, systemRoots.sans], ["files", undefined, undefined, undefined, []]);
  // A changed file is a different context.
  writeFileSync(join(dir, "ca.pem"), "ROTATED CA");
  const again = compileUpstreamTls(upstream({ validation_context: { trusted_ca: { filename: join(dir, "ca.pem") } } }), F);
  assert.equal(again.ca, "ROTATED CA");
  assert.notEqual(again.cacheKey, compileUpstreamTls(upstream({ validation_context: { trusted_ca: { inline_string: "CA PEM" } } }), F).cacheKey);
});

test("unreadable files are NACKed with the path, the error code and the fix", (t) => {
  const dir = tempDir(t, "mizzen-tls-files-");
  const missing = join(dir, "nope.pem");
  refused(() => compileUpstreamTls(upstream({ validation_context: { trusted_ca: { filename: missing } } }), F),
    `${CTX}.validation_context.trusted_ca.filename`, new RegExp(`cannot read ${missing.replace(/[.]/g, "\\.")}: ENOENT .*fix the path`));
  refused(() => compileUpstreamTls(upstream({ tls_certificates: [{ certificate_chain: { filename: dir }, private_key: { inline_string: "k" } }] }), F),
    `${CTX}.tls_certificates[0].certificate_chain.filename`, /EISDIR/);
  if (process.getuid?.() !== 0) {
    const locked = join(dir, "locked.pem");
    writeFileSync(locked, "secret");
    chmodSync(locked, 0o000);
    refused(() => compileUpstreamTls(upstream({ tls_certificates: [{ certificate_chain: { inline_string: "c" }, private_key: { filename: locked } }] }), F),
      `${CTX}.tls_certificates[0].private_key.filename`, /EACCES/);
  }
  refused(() => compileUpstreamTls(upstream({ tls_certificates: [{ certificate_chain: { inline_string: "c" } }] }), F),
    `${CTX}.tls_certificates[0]`, /needs both certificate_chain and private_key/);
});

test("downstream (inbound) mesh TLS: client certificate required or not, ALPN, and what a server must have", () => {
  assert.deepEqual(compileDownstreamTls(downstream(meshCommon({ alpn_protocols: ["h2", "http/1.1"] })), "fc"), { requireClientCert: true, alpn: ["h2", "http/1.1"], minVersion: "TLSv1.2" });
  assert.equal(compileDownstreamTls(downstream(meshCommon(), false), "fc").requireClientCert, false);
  const noRequire: TransportSocket = { name: "envoy.transport_sockets.tls", typed_config: { "@type": TYPE.downstreamTls, common_tls_context: meshCommon() } };
  assert.equal(compileDownstreamTls(noRequire, "fc").requireClientCert, false, "Envoy's default: not required");
  refused(() => compileDownstreamTls(downstream(meshCommon({ tls_certificate_sds_secret_configs: [] })), "fc"),
    "fc.typed_config.common_tls_context.tls_certificate_sds_secret_configs", /a server needs a certificate: name the SDS secret "default"/);
  refused(() => compileDownstreamTls(downstream(meshCommon({ tls_certificate_sds_secret_configs: [{ name: "server-cert", sds_config: SDS }] })), "fc"),
    "fc.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name", /"server-cert" is not available/);
  refused(() => compileDownstreamTls(downstream(meshCommon({ tls_certificates: [{ certificate_chain: { filename: "/c" }, private_key: { filename: "/k" } }] })), "fc"),
    "fc.typed_config.common_tls_context.tls_certificates", /not supported on a sidecar/);
});
