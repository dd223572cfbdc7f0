// The HAProxy pair's configuration: mutual TLS and keep-alive as the comparison needs, and,
// where haproxy and openssl are installed, accepted by haproxy's own config check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backConfig, frontConfig, haproxyVersion, makeCertificates, type HaproxyAddresses } from "./haproxy-pair.ts";

const A: HaproxyAddresses = { front: { host: "127.141.9.2", port: 15001 }, back: { host: "127.141.9.1", port: 8443 }, upstream: { host: "127.141.9.3", port: 8080 }, serverName: "upstream.default.svc.cluster.local" };

test("HAProxy 1 originates TLS with a client certificate and verifies HAProxy 2's name", () => {
  const cfg = frontConfig(A, "/certs");
  assert.match(cfg, /nbthread 1/);
  assert.match(cfg, /bind 127\.141\.9\.2:15001\n/);
  assert.match(cfg, /server peer 127\.141\.9\.1:8443 ssl crt \/certs\/client\.pem ca-file \/certs\/ca\.pem verify required verifyhost upstream\.default\.svc\.cluster\.local/);
  assert.match(cfg, /http-reuse always/);
});

test("HAProxy 2 terminates TLS, requires a client certificate, and forwards in plaintext", () => {
  const cfg = backConfig(A, "/certs");
  assert.match(cfg, /nbthread 1/);
  assert.match(cfg, /bind 127\.141\.9\.1:8443 ssl crt \/certs\/server\.pem ca-file \/certs\/ca\.pem verify required/);
  assert.match(cfg, /server app 127\.141\.9\.3:8080\n/);
});

const tools = haproxyVersion() !== undefined && (() => { try { execFileSync("openssl", ["version"]); return true; } catch { return false; } })();

test("haproxy -c accepts both configurations with the generated certificates", { skip: tools ? false : "haproxy or openssl not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "haproxy-pair-test-"));
  try {
    makeCertificates(dir, A.serverName);
    const verify = execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "server.crt"), join(dir, "client.crt")], { encoding: "utf8" });
    assert.match(verify, /server\.crt: OK/);
    assert.match(verify, /client\.crt: OK/);
    const san = execFileSync("openssl", ["x509", "-in", join(dir, "server.crt"), "-noout", "-ext", "subjectAltName"], { encoding: "utf8" });
    assert.match(san, /DNS:upstream\.default\.svc\.cluster\.local/);
    for (const [name, text] of [["front.cfg", frontConfig(A, dir)], ["back.cfg", backConfig(A, dir)]] as const) {
      writeFileSync(join(dir, name), text);
      execFileSync("haproxy", ["-c", "-q", "-f", join(dir, name)], { stdio: ["ignore", "pipe", "pipe"] });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
