// A minimal DER (ITU-T X.690) writer: only the types a PKCS#10 certificate request needs, so the
// sidecar can build its CSR with node:crypto alone. Every function returns one complete
// tag-length-value as a Buffer; constructed values take their children already encoded.
// Writing only, no reader: the sidecar reads certificates with node:crypto's X509Certificate.

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  ia5String: 0x16,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a single-octet tag (every tag this writer needs is below 31). */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(content.length), content]);
}

export function sequence(...children: readonly Uint8Array[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(children));
}

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function setOf(...children: readonly Uint8Array[]): Buffer {
  const sorted = children.map((c) => Buffer.from(c)).sort(Buffer.compare);
  return tlv(TAG.set, Buffer.concat(sorted));
}

export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return tlv(TAG.null, Buffer.alloc(0));
}

/** A non-negative INTEGER, in the fewest octets (a leading 0x00 only when the top bit is set). */
export function integer(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError(`DER integer: negative values are not supported (${v})`);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(TAG.integer, Buffer.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form, e.g. "2.5.29.17". */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.(0|[1-9]\d*))+$/.test(dotted)) throw new RangeError(`DER OID: "${dotted}" is not a dotted object identifier`);
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs[0]! < 2n && arcs[1]! >= 40n) throw new RangeError(`DER OID: "${dotted}": the second arc must be below 40 under arc ${arcs[0]}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    // Base 128, most significant group first, bit 8 set on every octet but the last.
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** A BIT STRING of whole octets (signatures, public keys): no unused bits. */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), bytes]));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.octetString, bytes);
}

/** IA5String (ASCII), the type of URI, DNS and email names in a SubjectAltName. */
export function ia5String(text: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError(`DER IA5String: "${text}" holds characters outside ASCII`);
  return tlv(TAG.ia5String, Buffer.from(text, "ascii"));
}

/** [n] EXPLICIT: the encoded child wrapped in a constructed context-specific tag. */
export function explicit(n: number, child: Uint8Array): Buffer {
  return tlv(0xa0 | contextNumber(n), child);
}

/** [n] IMPLICIT: the encoded value with its tag replaced (constructed stays constructed). */
export function implicit(n: number, encoded: Uint8Array): Buffer {
  const out = Buffer.from(encoded);
  out[0] = (out[0]! & 0x20) | 0x80 | contextNumber(n);
  return out;
}

function contextNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`DER context tag [${n}] is out of range (0..30)`);
  return n;
}
