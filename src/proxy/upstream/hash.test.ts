import { test } from "node:test";
import assert from "node:assert/strict";
import { combineHashes, randomHash, xxhash64 } from "./hash.ts";

// Known answers of XXH64, from the reference implementation (libxxhash / xxhash-wasm).
const KNOWN: [string, bigint, bigint][] = [
  ["", 0n, 0xef46db3751d8e999n],
  ["abc", 0n, 0x44bc2cf5ad770999n],
  ["abc", 1n, 0xbea9ca8199328908n],
  ["12345678", 1n, 0x339c66ff536000b7n],
  ["127.0.0.1:8080_0", 0n, 0xf673a43b9624fa24n],
  ["héllo wörld ☃", 0n, 0xc6f31b61bcc7f364n],
  ["Nobody inspects the spammish repetition", 0n, 0xfbcea83c8a378bf1n],
  ["Nobody inspects the spammish repetition", 1n, 0x43f425448d954db6n],
  ["x".repeat(100), 0n, 0x92f0de5a88a3c094n],
];

test("xxhash64 gives the reference answers for short, 8/4/1-byte tails, 32-byte stripes, UTF-8 and seeds", () => {
  for (const [input, seed, want] of KNOWN) assert.equal(xxhash64(input, seed), want, `${JSON.stringify(input)} seed ${seed}`);
  assert.equal(xxhash64(new TextEncoder().encode("abc")), 0x44bc2cf5ad770999n, "bytes hash like their string");
});

test("random hashes are 64-bit and differ", () => {
  const seen = new Set<bigint>();
  for (let i = 0; i < 100; i++) {
    const h = randomHash();
    assert.ok(h >= 0n && h < 1n << 64n);
    seen.add(h);
  }
  assert.ok(seen.size > 95);
});

test("hashes combine Envoy's way: the first as is, then rotate left one bit and xor", () => {
  assert.equal(combineHashes(undefined, 5n), 5n);
  assert.equal(combineHashes(1n, 0n), 2n);
  assert.equal(combineHashes(1n << 63n, 0n), 1n, "the top bit wraps around");
  // Two equal policies do not cancel out (a plain xor would give 0).
  const h = xxhash64("user-1");
  assert.notEqual(combineHashes(h, h), 0n);
});
