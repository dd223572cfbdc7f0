import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { bitString, boolean, explicit, ia5String, implicit, integer, nullValue, octetString, oid, sequence, setOf, tlv } from "./der.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("INTEGER: fewest octets, a 0x00 pad only when the top bit is set; negatives refused", () => {
  assert.equal(hex(integer(0)), "020100");
  assert.equal(hex(integer(127)), "02017f");
  assert.equal(hex(integer(128)), "02020080");
  assert.equal(hex(integer(256)), "02020100");
  assert.equal(hex(integer(0x10001)), "0203010001");
  assert.equal(hex(integer(2n ** 64n)), "0209010000000000000000");
  assert.throws(() => integer(-1), RangeError);
});

test("OBJECT IDENTIFIER: first two arcs folded, base-128 groups; malformed OIDs refused", () => {
  assert.equal(hex(oid("1.2.840.113549")), "06062a864886f70d");
  assert.equal(hex(oid("2.5.29.17")), "0603551d11");
  assert.equal(hex(oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.equal(hex(oid("2.999.3")), "0603883703"); // first subidentifier 1079 spans two octets
  for (const bad of ["1", "3.1", "1.40", "1.2.", "1..2", "1.02", "a.b"]) assert.throws(() => oid(bad), RangeError, bad);
});

test("lengths: short form below 128, long form with the fewest octets above", () => {
  assert.equal(hex(tlv(0x04, Buffer.alloc(127)).subarray(0, 2)), "047f");
  assert.equal(hex(tlv(0x04, Buffer.alloc(200)).subarray(0, 3)), "0481c8");
  assert.equal(hex(tlv(0x04, Buffer.alloc(300)).subarray(0, 4)), "0482012c");
  assert.equal(hex(tlv(0x04, Buffer.alloc(70_000)).subarray(0, 5)), "0483011170");
});

test("SET OF is sorted by encoding; SEQUENCE keeps its order", () => {
  assert.equal(hex(setOf(integer(2), integer(1))), "3106020101020102");
  assert.equal(hex(sequence(integer(2), integer(1))), "3006020102020101");
  assert.equal(hex(setOf()), "3100");
});

test("context tags: IMPLICIT replaces the tag (keeping constructed), EXPLICIT wraps", () => {
  assert.equal(hex(implicit(6, ia5String("a"))), "860161");
  assert.equal(hex(implicit(0, setOf())), "a000");
  assert.equal(hex(explicit(0, integer(2))), "a003020102");
  assert.throws(() => implicit(31, ia5String("a")), RangeError);
});

test("the primitive types, and IA5String refuses non-ASCII", () => {
  assert.equal(hex(boolean(true)), "0101ff");
  assert.equal(hex(boolean(false)), "010100");
  assert.equal(hex(nullValue()), "0500");
  assert.equal(hex(bitString(Buffer.from([0xab]))), "030200ab");
  assert.equal(hex(octetString(Buffer.from([1, 2]))), "04020102");
  assert.equal(hex(ia5String("spiffe://td")), `160b${Buffer.from("spiffe://td").toString("hex")}`);
  assert.throws(() => ia5String("spiffe://tö"), RangeError);
});

test("OpenSSL reads a nested structure back as written", () => {
  const der = sequence(oid("2.5.29.17"), boolean(true), octetString(sequence(implicit(6, ia5String("spiffe://td/x")))), nullValue(), integer(300), octetString(Buffer.alloc(200, 7)));
  const out = execFileSync("openssl", ["asn1parse", "-inform", "DER"], { input: der, encoding: "utf8" });
  assert.match(out, /OBJECT\s+:X509v3 Subject Alternative Name/);
  assert.match(out, /BOOLEAN\s+:255/);
  assert.match(out, /NULL/);
  assert.match(out, /INTEGER\s+:012C/);
  assert.match(out, /OCTET STRING\s+\[HEX DUMP\]:(07){200}/);
  assert.doesNotMatch(out, /error|Error/);
});
