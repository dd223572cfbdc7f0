// `mizzen token issue|revoke` as a user runs it: the token is printed once, the store keeps only
// its hash (mode 0600), and the control plane's token check accepts it until it is revoked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BootstrapTokens } from "../ca/tokens.ts";

const CLI = fileURLToPath(new URL("./main.ts", import.meta.url));

test("issue prints a token whose hash alone is stored; revoke ends it; a bad name is one line", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-token-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) => execFileSync(process.execPath, [CLI, "token", ...args, "--data-dir", dir], { encoding: "utf8" }).trim();
  const token = run(["issue", "--namespace", "shop", "--service-account", "cart"]);
  assert.match(token, /^mzt1\.[A-Za-z0-9_-]{43}$/);
  const file = join(dir, "tokens.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!readFileSync(file, "utf8").includes(token), "the store never holds the token itself");
  assert.deepEqual(new BootstrapTokens({ file }).verify(token), { trustDomain: "cluster.local", namespace: "shop", serviceAccount: "cart" });
  assert.equal(run(["revoke", "--namespace", "shop", "--service-account", "cart"]), "revoked 1 token(s) for ns/shop/sa/cart");
  assert.throws(() => new BootstrapTokens({ file }).verify(token), /not known to this control plane/);
  const bad = spawnSync(process.execPath, [CLI, "token", "issue", "--namespace", "Bad_NS", "--service-account", "x", "--data-dir", dir], { encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^mizzen: .*namespace "Bad_NS" is not a Kubernetes namespace name/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, "one line, no stack trace");
});
