// Helpers for the identity tests: a real mesh CA (self-signed root in a temp dir, bootstrap
// tokens, IstioCertificateService over TLS with a serving certificate signed by that root),
// a log capture, and workload certificates obtained through WorkloadIdentityManager.
import type { webcrypto } from "node:crypto";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { workloadIdentity, type WorkloadIdentity } from "../../ca/identity.ts";
import { randomSerialHex, loadOrCreateSelfSignedRoot, type SigningCa } from "../../ca/root.ts";
import { startCaServer, type CaServer } from "../../ca/service.ts";
import { tempDir } from "../../ca/test-kit.ts";
import { BootstrapTokens } from "../../ca/tokens.ts";
import * as x509 from "../../ca/x509.ts";
import { WorkloadIdentityManager, type WorkloadIdentityOptions } from "./workload-identity.ts";
import type { WorkloadCertificate } from "./validate-chain.ts";

export const REVIEWS = workloadIdentity("cluster.local", "bookinfo", "reviews");
export const REVIEWS_ID = "spiffe://cluster.local/ns/bookinfo/sa/reviews";
export const PRODUCTPAGE = workloadIdentity("cluster.local", "bookinfo", "productpage");
export const PRODUCTPAGE_ID = "spiffe://cluster.local/ns/bookinfo/sa/productpage";
export const RATINGS_ID = "spiffe://cluster.local/ns/bookinfo/sa/ratings";

type TestContext = { after: (fn: () => Promise<void> | void) => void };

export interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
}

export function captureLogs(level = "debug"): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/** A serving certificate for the CA's gRPC endpoint: DNS SANs only, signed by the mesh root (the control plane's job). */
export async function issueServerCert(ca: SigningCa, dnsNames: readonly string[]): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: "CN=mizzen-control",
    issuer: ca.cert.subjectName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value }))),
    ],
  });
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { certPem: `${cert.toString("pem")}\n${ca.chainPem.join("")}`, keyPem };
}

export interface TestCa {
  ca: SigningCa;
  tokens: BootstrapTokens;
  rootPem: string;
  /** 127.0.0.1:port of the TLS endpoint. */
  address: string;
  /** Stops the gRPC server (the port stays known so restart() can take it again). */
  close(): Promise<void>;
  restart(): Promise<void>;
  token(id: WorkloadIdentity): string;
}

export interface TestCaOptions {
  /** DNS names of the serving certificate. Default ["mizzen-control", "istiod.istio-system.svc"]. */
  serverNames?: readonly string[];
  /** Serve without TLS (to test a sidecar that expects TLS). */
  plaintext?: boolean;
  logger?: Logger;
}

export async function startTestCa(t: TestContext, opts: TestCaOptions = {}): Promise<TestCa> {
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t, "mizzen-identity-ca-") });
  const tokens = new BootstrapTokens();
  const serving = await issueServerCert(ca, opts.serverNames ?? ["mizzen-control", "istiod.istio-system.svc"]);
  const credentials = opts.plaintext
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certPem) }], false);
  let server: CaServer | undefined = await startCaServer({ address: "127.0.0.1:0", ca, tokens, credentials, logger: opts.logger, trustDomain: "cluster.local" });
  const address = server.address;
  const close = async (): Promise<void> => {
    const s = server;
    server = undefined;
    await s?.close();
  };
  t.after(close);
  return {
    ca,
    tokens,
    rootPem: ca.rootPem,
    address,
    close,
    async restart() {
      await close();
      server = await startCaServer({ address, ca, tokens, credentials, logger: opts.logger, trustDomain: "cluster.local" });
    },
    token: (id) => tokens.issue(id),
  };
}

/** A manager for `id` against `testCa`, stopped when the test ends. */
export function managerFor(t: TestContext, testCa: TestCa, id: WorkloadIdentity, opts: Partial<WorkloadIdentityOptions> = {}): WorkloadIdentityManager {
  const m = new WorkloadIdentityManager({ caAddress: testCa.address, token: testCa.token(id), caRootPem: testCa.rootPem, ...opts });
  t.after(() => m.stop());
  return m;
}

/** A started workload identity's current certificate. */
export async function certificateFor(t: TestContext, testCa: TestCa, id: WorkloadIdentity, opts: Partial<WorkloadIdentityOptions> = {}): Promise<WorkloadCertificate> {
  const m = managerFor(t, testCa, id, opts);
  await m.start();
  return m.current();
}

/** Resolves when `check` returns true (polled every 20 ms); rejects after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
