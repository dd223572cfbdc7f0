// DiscoveryResponse on the wire, written by hand instead of through protobufjs.
//
// A push to P proxies sends the same resources P times. protobufjs rebuilt each response
// (fromObject, encode into a writer, then a copy into a Buffer), so a 350 KiB route table
// was copied three times per proxy and garbage-collected after. Here the `resources` field of
// a list of Anys is encoded once and kept beside that (shared, never changed) list, so a
// response costs one allocation and one copy. Measured with bench/issue6.ts: see
// bench/results/issue6.md.
//
// Fields (envoy.service.discovery.v3.DiscoveryResponse): 1 version_info, 2 resources (Any:
// 1 type_url, 2 value), 4 type_url, 5 nonce, 6 control_plane (ControlPlane: 1 identifier).
// Empty strings are left out, as proto3 does.
import type { DiscoveryResponseMessage, RawAny } from "./ads-service.ts";

const LEN = 2; // wire type of length-delimited fields

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** Size of a length-delimited field (one-byte tag: field numbers below 16) holding `len` bytes. */
function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function writeHeader(buf: Buffer, at: number, field: number, len: number): number {
  buf[at++] = (field << 3) | LEN;
  return writeVarint(buf, at, len);
}

function writeString(buf: Buffer, at: number, field: number, s: string, bytes: number): number {
  at = writeHeader(buf, at, field, bytes);
  return at + buf.write(s, at, "utf8");
}

/** The `resources` field (2) for each Any, back to back. */
export function encodeResourcesField(resources: readonly RawAny[]): Buffer {
  let total = 0;
  const sizes = resources.map((r) => {
    const typeBytes = Buffer.byteLength(r.type_url, "utf8");
    const anyLen = (typeBytes ? fieldSize(typeBytes) : 0) + (r.value.length ? fieldSize(r.value.length) : 0);
    total += fieldSize(anyLen);
    return { typeBytes, anyLen };
  });
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  resources.forEach((r, i) => {
    const { typeBytes, anyLen } = sizes[i]!;
    at = writeHeader(buf, at, 2, anyLen);
    if (typeBytes) at = writeString(buf, at, 1, r.type_url, typeBytes);
    if (r.value.length) {
      at = writeHeader(buf, at, 2, r.value.length);
      buf.set(r.value, at);
      at += r.value.length;
    }
  });
  return buf;
}

// Keyed by the resource list itself: the ADS server hands every proxy with the same subset
// the very same array (resource-set.ts), so its encoding is shared too.
const resourcesWire = new WeakMap<readonly RawAny[], Buffer>();

function resourcesFieldOf(resources: readonly RawAny[]): Buffer {
  let wire = resourcesWire.get(resources);
  if (!wire) {
    wire = encodeResourcesField(resources);
    resourcesWire.set(resources, wire);
  }
  return wire;
}

/** A string field's parts, or undefined for an empty string (left out). */
function stringField(field: number, s: string | undefined): { field: number; s: string; bytes: number } | undefined {
  const bytes = s ? Buffer.byteLength(s, "utf8") : 0;
  return bytes ? { field, s: s!, bytes } : undefined;
}

/** The DiscoveryResponse's bytes; `res.resources` must not change after its first encoding. */
export function encodeDiscoveryResponse(res: DiscoveryResponseMessage): Buffer {
  const resources = resourcesFieldOf(res.resources);
  const version = stringField(1, res.version_info);
  const after = [stringField(4, res.type_url), stringField(5, res.nonce)].filter((f) => f !== undefined);
  const identifier = res.control_plane ? stringField(1, res.control_plane.identifier) : undefined;
  const controlPlaneLen = identifier ? fieldSize(identifier.bytes) : 0;
  let total = resources.length;
  for (const f of [version, ...after]) if (f) total += fieldSize(f.bytes);
  if (res.control_plane) total += fieldSize(controlPlaneLen);

  // Field order as protobufjs writes it: 1, 2, 4, 5, 6.
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  if (version) at = writeString(buf, at, version.field, version.s, version.bytes);
  at += resources.copy(buf, at);
  for (const f of after) at = writeString(buf, at, f.field, f.s, f.bytes);
  if (res.control_plane) {
    at = writeHeader(buf, at, 6, controlPlaneLen);
    if (identifier) writeString(buf, at, identifier.field, identifier.s, identifier.bytes);
  }
  return buf;
}
