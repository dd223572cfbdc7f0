// Helpers for the CA's tests: temporary directories, CSRs made with real keys, openssl as an
// independent generator and checker.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "./x509.ts";

export function tempDir(t: { after: (fn: () => void) => void }, prefix = "mizzen-ca-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CsrOptions {
  uris?: string[];
  dns?: string[];
  key?: "ec" | "rsa";
  rsaBits?: number;
}

/** A real PKCS#10 CSR signed by a fresh key pair. */
export async function makeCsr(opts: CsrOptions = {}): Promise<string> {
  const rsa = opts.key === "rsa";
  const alg = rsa
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: opts.rsaBits ?? 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const names = [...(opts.uris ?? []).map((value) => ({ type: "url" as const, value })), ...(opts.dns ?? []).map((value) => ({ type: "dns" as const, value }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString("pem");
}

export function openssl(args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync("openssl", args, { cwd: opts.cwd, input: opts.input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: 20_000 });
}

/** `openssl verify` of a leaf against a root with optional intermediates; returns its output or throws. */
export function opensslVerify(dir: string, rootPem: string, leafPem: string, intermediatesPem: string[] = []): string {
  writeFileSync(join(dir, "v-root.pem"), rootPem);
  writeFileSync(join(dir, "v-leaf.pem"), leafPem);
  const args = ["verify", "-CAfile", join(dir, "v-root.pem")];
  if (intermediatesPem.length) {
    writeFileSync(join(dir, "v-inter.pem"), intermediatesPem.join(""));
    args.push("-untrusted", join(dir, "v-inter.pem"));
  }
  return openssl([...args, join(dir, "v-leaf.pem")]);
}

/**
 * Writes Istio's cacerts layout made entirely by openssl: an RSA root and an ECDSA intermediate
 * signed by it. `chain` chooses how cert-chain.pem is written (Istio's tooling: ca then root).
 */
export function makePluggedCa(dir: string, chain: "ca+root" | "ca-only" | "absent" = "ca+root"): void {
  const ext = join(dir, "ext.cnf");
  writeFileSync(ext, "[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root-key.pem", "-out", "root-cert.pem", "-days", "3650",
    "-subj", "/O=Operator Inc/CN=Operator Root CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], { cwd: dir });
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.csr",
    "-subj", "/O=Operator Inc/CN=Mizzen intermediate CA"], { cwd: dir });
  openssl(["x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem", "-CAcreateserial", "-out", "ca-cert.pem",
    "-days", "730", "-extfile", ext, "-extensions", "v3_ca"], { cwd: dir });
  chmodSync(join(dir, "ca-key.pem"), 0o600);
  const ca = openssl(["x509", "-in", "ca-cert.pem"], { cwd: dir });
  const root = openssl(["x509", "-in", "root-cert.pem"], { cwd: dir });
  if (chain === "ca+root") writeFileSync(join(dir, "cert-chain.pem"), ca + root);
  if (chain === "ca-only") writeFileSync(join(dir, "cert-chain.pem"), ca);
}
