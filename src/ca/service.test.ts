import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { requestCertificate } from "./client.ts";
import { workloadIdentity } from "./identity.ts";
import { CREATE_CERTIFICATE_PATH } from "./proto.ts";
import { loadOrCreateSelfSignedRoot, loadPluggedCa, type SigningCa } from "./root.ts";
import { CertificateService, startCaServer, type CaServer } from "./service.ts";
import { makeCsr, makePluggedCa, opensslVerify, tempDir } from "./test-kit.ts";
import { BootstrapTokens } from "./tokens.ts";

const REVIEWS = workloadIdentity("cluster.local", "bookinfo", "reviews");
const REVIEWS_ID = "spiffe://cluster.local/ns/bookinfo/sa/reviews";

function captureLogs(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

async function start(t: { after: (fn: () => Promise<void> | void) => void }, ca: SigningCa, tokens: BootstrapTokens, logger?: pino.Logger): Promise<CaServer> {
  const server = await startCaServer({ address: "127.0.0.1:0", ca, tokens, logger, trustDomain: "cluster.local" });
  t.after(() => server.close());
  return server;
}

function grpcError(code: grpc.status, details: RegExp) {
  return (e: grpc.ServiceError) => {
    assert.equal(e.code, code, `${grpc.status[e.code]}: ${e.details}`);
    assert.match(e.details, details);
    return true;
  };
}

test("CreateCertificate over real gRPC: the token decides the identity, the chain verifies with openssl", async (t) => {
  const dir = tempDir(t);
  const ca = await loadOrCreateSelfSignedRoot({ dir });
  const tokens = new BootstrapTokens();
  const { logger, lines } = captureLogs();
  const server = await start(t, ca, tokens, logger);
  const token = tokens.issue(REVIEWS);

  const chain = await requestCertificate({ address: server.address, token, csrPem: await makeCsr(), metadata: { WorkloadName: "reviews-v1", ClusterID: "Kubernetes" } });
  assert.equal(chain.length, 2);
  assert.equal(chain[1], ca.rootPem);
  assert.match(opensslVerify(dir, ca.rootPem, chain[0]!), /OK/);
  const chain2 = await requestCertificate({ address: server.address, token, csrPem: await makeCsr({ uris: [REVIEWS_ID], key: "rsa" }), validitySeconds: 3600 });
  assert.equal(chain2.length, 2);
  assert.deepEqual(server.service.stats(), { issued: 2, refused: {} });
  const issuedLine = lines.find((l) => l.msg === "certificate issued");
  assert.equal(issuedLine?.spiffeId, REVIEWS_ID);
  assert.equal(issuedLine?.workload, "reviews-v1");
});

test("refusals: bad or missing token, another identity, garbage CSR, lifetime, undecodable request; each logged and counted", async (t) => {
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  const tokens = new BootstrapTokens();
  const { logger, lines } = captureLogs();
  const server = await start(t, ca, tokens, logger);
  const token = tokens.issue(REVIEWS);
  const csrPem = await makeCsr();
  const address = server.address;

  await assert.rejects(requestCertificate({ address, csrPem }), grpcError(grpc.status.UNAUTHENTICATED, /no bootstrap token was presented/));
  await assert.rejects(requestCertificate({ address, csrPem, token: "not-a-token" }), grpcError(grpc.status.UNAUTHENTICATED, /malformed/));
  const forged = `mzt1.${"A".repeat(43)}`;
  await assert.rejects(requestCertificate({ address, csrPem, token: forged }), grpcError(grpc.status.UNAUTHENTICATED, /not known/));
  const other = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  await assert.rejects(
    requestCertificate({ address, token, csrPem: await makeCsr({ uris: [other] }) }),
    grpcError(grpc.status.PERMISSION_DENIED, new RegExp(`"${other}".*entitled only to "${REVIEWS_ID}"`)),
  );
  await assert.rejects(requestCertificate({ address, token, csrPem: "-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----" }), grpcError(grpc.status.INVALID_ARGUMENT, /not a valid PKCS#10/));
  await assert.rejects(requestCertificate({ address, token, csrPem: "" }), grpcError(grpc.status.INVALID_ARGUMENT, /CSR is empty/));
  await assert.rejects(requestCertificate({ address, token, csrPem, validitySeconds: 365 * 86_400 }), grpcError(grpc.status.INVALID_ARGUMENT, /exceeds the maximum/));
  await assert.rejects(requestCertificate({ address, token, csrPem, validitySeconds: -1 }), grpcError(grpc.status.INVALID_ARGUMENT, /positive whole number/));
  // A token of another trust domain is refused by a CA that names its own.
  const foreign = tokens.issue(workloadIdentity("other.mesh", "bookinfo", "reviews"));
  await assert.rejects(requestCertificate({ address, token: foreign, csrPem }), grpcError(grpc.status.UNAUTHENTICATED, /trust domain "other.mesh"/));

  // Bytes that are not an IstioCertificateRequest at all.
  const raw = new grpc.Client(address, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  await assert.rejects(
    new Promise((resolve, reject) => {
      raw.makeUnaryRequest(CREATE_CERTIFICATE_PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0xff, 0xff, 0xff]), md, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res)));
    }),
    grpcError(grpc.status.INVALID_ARGUMENT, /not an IstioCertificateRequest/),
  );

  assert.deepEqual(server.service.stats(), {
    issued: 0,
    refused: { missing_token: 1, bad_token: 1, unknown_token: 1, identity_mismatch: 1, bad_csr: 2, bad_lifetime: 2, wrong_trust_domain: 1, bad_request: 1 },
  });
  const warns = lines.filter((l) => l.msg && String(l.msg).startsWith("certificate refused"));
  assert.equal(warns.length, 10);
  assert.ok(warns.every((l) => l.level === 40 && typeof l.reason === "string" && typeof l.peer === "string"));
  assert.ok(!JSON.stringify(lines).includes(token.slice(5)), "tokens never reach the log");
  // The server is still healthy after all that.
  assert.equal((await requestCertificate({ address, token, csrPem })).length, 2);
});

test("a plugged intermediate CA answers leaf, intermediate, root", async (t) => {
  const dir = tempDir(t);
  makePluggedCa(dir);
  const ca = await loadPluggedCa({ dir });
  const tokens = new BootstrapTokens();
  const server = await start(t, ca, tokens);
  const chain = await requestCertificate({ address: server.address, token: tokens.issue(REVIEWS), csrPem: await makeCsr() });
  assert.equal(chain.length, 3);
  assert.deepEqual(chain.slice(1), [...ca.chainPem]);
  assert.match(opensslVerify(tempDir(t), chain[2]!, chain[0]!, [chain[1]!]), /OK/);
});

test("a bad lifetime configuration fails at construction, not per request", async (t) => {
  const ca = await loadOrCreateSelfSignedRoot({ dir: tempDir(t) });
  assert.throws(() => new CertificateService({ ca, tokens: new BootstrapTokens(), lifetime: { defaultSeconds: 0 } }), /MIZZEN_E_CA_LIFETIME/);
  assert.throws(() => new CertificateService({ ca, tokens: new BootstrapTokens(), lifetime: { defaultSeconds: 7200, maxSeconds: 3600 } }), /exceeds the maximum/);
});
