import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BootstrapTokens } from "./tokens.ts";
import { workloadIdentity } from "./identity.ts";
import { tempDir } from "./test-kit.ts";

const REVIEWS = workloadIdentity("cluster.local", "bookinfo", "reviews");
const RATINGS = workloadIdentity("cluster.local", "bookinfo", "ratings");

test("each token maps to exactly the identity it was issued for", () => {
  const tokens = new BootstrapTokens();
  const a = tokens.issue(REVIEWS);
  const b = tokens.issue(RATINGS);
  const a2 = tokens.issue(REVIEWS);
  assert.match(a, /^mzt1\.[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, a2, "every issue is a fresh random token");
  assert.deepEqual(tokens.verify(a), REVIEWS);
  assert.deepEqual(tokens.verify(a2), REVIEWS);
  assert.deepEqual(tokens.verify(b), RATINGS);
  assert.equal(tokens.size, 3);
});

test("missing, malformed, unknown and revoked tokens are refused with a reason", () => {
  const tokens = new BootstrapTokens();
  const t = tokens.issue(REVIEWS);
  const refused = (tok: string | undefined, reason: string) =>
    assert.throws(() => tokens.verify(tok), (e: Error & { code?: string; reason?: string }) => e.code === "MIZZEN_E_CA_TOKEN" && e.reason === reason, `${tok} -> ${reason}`);
  refused(undefined, "missing_token");
  refused("", "missing_token");
  refused("Bearer " + t, "bad_token");
  refused(t.slice(0, -1), "bad_token");
  refused(t + "x", "bad_token");
  refused(t.slice(0, -1) + (t.endsWith("A") ? "B" : "A"), "unknown_token");
  assert.equal(tokens.revoke(t), true);
  assert.equal(tokens.revoke(t), false);
  refused(t, "unknown_token");
  const r1 = tokens.issue(RATINGS);
  const r2 = tokens.issue(RATINGS);
  const keep = tokens.issue(REVIEWS);
  assert.equal(tokens.revokeIdentity(RATINGS), 2);
  refused(r1, "unknown_token");
  refused(r2, "unknown_token");
  assert.deepEqual(tokens.verify(keep), REVIEWS);
  assert.throws(() => tokens.issue({ trustDomain: "cluster.local", namespace: "Bad", serviceAccount: "x" }), /MIZZEN_E_CA_IDENTITY/);
});

test("a token file keeps only hashes, mode 0600, and survives a restart", (t) => {
  const file = join(tempDir(t), "tokens.json");
  const first = new BootstrapTokens({ file });
  const tok = first.issue(REVIEWS);
  const gone = first.issue(RATINGS);
  first.revoke(gone);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, "utf8");
  assert.ok(!text.includes(tok.slice(5)), "the token itself is never stored");
  assert.match(text, /"sha256": "[0-9a-f]{64}"/);
  const second = new BootstrapTokens({ file });
  assert.deepEqual(second.verify(tok), REVIEWS);
  assert.throws(() => second.verify(gone), /not known/);
  writeFileSync(file, "{not json");
  assert.throws(() => new BootstrapTokens({ file }), /MIZZEN_E_CA_STORE: .*tokens.json: not a readable token store/);
  writeFileSync(file, JSON.stringify({ version: 1, tokens: [{ sha256: "ab", spiffeId: "spiffe://x/ns/a/sa/b" }] }));
  assert.throws(() => new BootstrapTokens({ file }), /tokens\[0\].sha256/);
});
