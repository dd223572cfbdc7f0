// Envoy's v3 protos, loaded once (lazily) with protobufjs, and the conversions between
// Mizzen's object form (see envoy-types.ts) and google.protobuf.Any.
//
// ROOT_FILES (the .proto files shipped in @grpc/grpc-js-xds) is the single source of truth.
// At run time envoyRoot() loads envoy-descriptor.json instead: the same types, pruned to those
// reachable from ROOT_FILES and without custom options, generated from ROOT_FILES by
// `npx node scripts/envoy-descriptor.ts` (envoy-descriptor.test.ts fails when it is stale).
// Measured (Node 24, 2 cores): parsing the .proto text (~80 files) takes 90-100 ms and leaves
// the process ~20 MiB bigger; the JSON loads in 30-45 ms and ~12 MiB (bench/memory.ts has the
// whole-sidecar numbers). If the list changes before the JSON is regenerated, envoyRoot()
// warns once and parses the .proto files, so a new file works at once, only slower.
import protobuf from "protobufjs";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { checkMessage } from "./proto-check.ts";
import { addSnakeCaseStruct } from "./struct-proto.ts";
import type { EnvoyDescriptor } from "./envoy-descriptor.ts";

export const ROOT_FILES: readonly string[] = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/fault/v3/fault.proto",
  "envoy/extensions/filters/http/cors/v3/cors.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/network/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/jwt_authn/v3/config.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/access_loggers/file/v3/file.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
  "envoy/config/trace/v3/opentelemetry.proto",
  "envoy/config/trace/v3/zipkin.proto",
  "envoy/type/tracing/v3/custom_tag.proto",
  // Istio's istio.stats filter config (stats.PluginConfig) travels in a TypedStruct.
  "udpa/type/v1/typed_struct.proto",
];

/** Options for every decode into the object form envoy-types.ts describes. */
export const OBJECT_FORM: protobuf.IConversionOptions = { enums: String, longs: Number, json: true, defaults: false };

const TYPE_PREFIX = "type.googleapis.com/";

function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  const dirs = ["envoy-api", "googleapis", "protoc-gen-validate", "xds"].map((d) => join(pkg, "deps", d));
  // google/protobuf/descriptor.proto (custom options) is not among protobufjs's bundled files.
  dirs.push(dirname(dirname(dirname(require.resolve("protobufjs/google/protobuf/descriptor.proto")))));
  return dirs;
}

let loaded: protobuf.Root | undefined;

const DESCRIPTOR_URL = new URL("./envoy-descriptor.json", import.meta.url);

/** The committed descriptor, when it was generated from exactly ROOT_FILES. */
function committedDescriptor(): EnvoyDescriptor | undefined {
  let descriptor: EnvoyDescriptor;
  try {
    descriptor = JSON.parse(readFileSync(DESCRIPTOR_URL, "utf8")) as EnvoyDescriptor;
  } catch (err) {
    process.emitWarning(`cannot read ${DESCRIPTOR_URL.pathname} (${(err as Error).message}); parsing the .proto files instead. Regenerate it: npx node scripts/envoy-descriptor.ts`);
    return undefined;
  }
  const same = descriptor.files?.length === ROOT_FILES.length && ROOT_FILES.every((f, i) => descriptor.files[i] === f);
  if (same) return descriptor;
  process.emitWarning(`src/xds/envoy-descriptor.json was built from a different list than ROOT_FILES in src/xds/protos.ts; parsing the .proto files instead. Regenerate it: npx node scripts/envoy-descriptor.ts`);
  return undefined;
}

/** The protobufjs root holding every Envoy type Mizzen uses. Loaded on first use only. */
export function envoyRoot(): protobuf.Root {
  if (loaded) return loaded;
  const descriptor = committedDescriptor();
  if (descriptor) {
    const root = protobuf.Root.fromJSON(descriptor.root);
    root.resolveAll();
    loaded = root;
    return root;
  }
  loaded = parseEnvoyProtos();
  return loaded;
}

/** Parses ROOT_FILES (and their imports) from the .proto text: the generator's input. */
export function parseEnvoyProtos(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target; // bundled google/protobuf/* files, or a clear ENOENT from loadSync
  };
  addSnakeCaseStruct(root);
  root.loadSync([...ROOT_FILES], { keepCase: true });
  root.resolveAll();
  return root;
}

/** The message type behind a type URL ("type.googleapis.com/envoy...Listener"), or undefined. */
export function messageType(typeUrl: string): protobuf.Type | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  if (!name) return undefined;
  try {
    const found = envoyRoot().lookup(name);
    return found instanceof protobuf.Type ? found : undefined;
  } catch {
    return undefined;
  }
}

function requireType(typeUrl: string): protobuf.Type {
  const type = messageType(typeUrl);
  if (!type) throw new Error(`unknown type URL "${typeUrl}": not an Envoy message Mizzen loads (expected e.g. ${TYPE_PREFIX}envoy.config.listener.v3.Listener)`);
  return type;
}

/**
 * Object form -> Any. Throws a clear error (field path and reason) when the object does not
 * fit the message: unknown field, wrong type, bad enum name, unknown nested "@type".
 */
export function encodeResource(typeUrl: string, resource: object): { type_url: string; value: Buffer } {
  const type = requireType(typeUrl);
  const problem = checkMessage(type, resource, type.name);
  if (problem) throw new Error(`cannot encode ${type.name}: ${problem}`);
  const message = type.fromObject(resource as Record<string, unknown>);
  return { type_url: typeUrl, value: Buffer.from(type.encode(message).finish()) };
}

/** Any -> object form. Throws when the type URL is unknown or the bytes do not parse. */
export function decodeResource(any: { type_url: string; value: Uint8Array }): any {
  const type = requireType(any.type_url);
  const message = type.decode(any.value);
  return type.toObject(message, OBJECT_FORM);
}

/** A resource's name: `.name`, or `.cluster_name` for a ClusterLoadAssignment. */
export function resourceName(typeUrl: string, resource: any): string {
  if (typeUrl.endsWith(".ClusterLoadAssignment")) return String(resource?.cluster_name ?? "");
  return String(resource?.name ?? "");
}

/** The message type by fully qualified name, e.g. "envoy.service.discovery.v3.DiscoveryRequest". */
export function lookupMessage(fullName: string): protobuf.Type {
  return envoyRoot().lookupType(fullName);
}
