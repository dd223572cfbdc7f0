// Envoy's v3 protos, loaded once (lazily) with protobufjs from the .proto files shipped in
// @grpc/grpc-js-xds, and the conversions between Mizzen's object form (see envoy-types.ts)
// and google.protobuf.Any.
//
// Cost, measured on this machine (Node 24, 2 cores; /tmp script timing envoyRoot() and one
// encode+decode per xDS type): the first call parses 77 .proto files and resolves them in
// 80-110 ms; the first encode/decode per type adds ~10 ms of codegen; heap grows by ~5.5 MB
// (after GC). Later calls are free. Control plane and proxy each pay it once at start-up.
import protobuf from "protobufjs";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { checkMessage } from "./proto-check.ts";

const ROOT_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/access_loggers/file/v3/file.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
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

// protobufjs bundles google/protobuf/struct.proto with camelCase field names (stringValue),
// which would break the snake_case object form. The same schema (same field numbers, so the
// same wire format) is declared here and registered before anything imports it.
const STRUCT_PROTO = `
syntax = "proto3";
package google.protobuf;
message Struct { map<string, Value> fields = 1; }
message Value {
  oneof kind {
    NullValue null_value = 1;
    double number_value = 2;
    string string_value = 3;
    bool bool_value = 4;
    Struct struct_value = 5;
    ListValue list_value = 6;
  }
}
enum NullValue { NULL_VALUE = 0; }
message ListValue { repeated Value values = 1; }
`;

let loaded: protobuf.Root | undefined;

/** The protobufjs root holding every Envoy type Mizzen uses. Parsed on first use only. */
export function envoyRoot(): protobuf.Root {
  if (loaded) return loaded;
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target; // bundled google/protobuf/* files, or a clear ENOENT from loadSync
  };
  protobuf.parse(STRUCT_PROTO, root, { keepCase: true });
  root.files.push("google/protobuf/struct.proto"); // marks it loaded: imports skip the bundled copy
  root.loadSync(ROOT_FILES, { keepCase: true });
  root.resolveAll();
  loaded = root;
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
