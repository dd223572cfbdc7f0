// Quick measurement, not a test: full mutual-TLS handshakes per second through node:tls with
// workload certificates of each key type, under a root of each key type. Both ends run in this
// one process, so a number is the CPU cost of a client plus a server handshake on one thread.
// No session resumption: every handshake verifies both chains and signs on both sides.
//   npx node src/proxy/identity/handshake-bench.ts [seconds per case, default 3]
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { workloadIdentity } from "../../ca/identity.ts";
import type { CaKeyType } from "../../ca/keys.ts";
import { loadOrCreateSelfSignedRoot } from "../../ca/root.ts";
import { signCsr } from "../../ca/sign.ts";
import { clientTlsOptions, serverTlsOptions } from "./tls-contexts.ts";
import { parseTrustBundle, validateIssuedChain, type WorkloadCertificate } from "./validate-chain.ts";
import { generateWorkloadKey, type WorkloadKeyType } from "./workload-key.ts";

const seconds = Number(process.argv[2] ?? 3);

async function certificate(rootType: CaKeyType, keyType: WorkloadKeyType, sa: string, dir: string): Promise<WorkloadCertificate> {
  const ca = await loadOrCreateSelfSignedRoot({ dir, keyType: rootType });
  const key = await generateWorkloadKey(keyType);
  const issued = await signCsr(ca, { csrPem: key.csrPem, identity: workloadIdentity("cluster.local", "bench", sa) });
  return validateIssuedChain(issued.chainPem, key, parseTrustBundle(ca.rootPem, "root"), new Date());
}

function handshake(port: number, opts: tls.ConnectionOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(port, "127.0.0.1", opts, () => {
      s.destroy();
      resolve();
    });
    s.on("error", reject);
  });
}

async function measure(rootType: CaKeyType, keyType: WorkloadKeyType, concurrency: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-hs-bench-"));
  try {
    const server = await certificate(rootType, keyType, "server", dir);
    const client = await certificate(rootType, keyType, "client", dir);
    const srv = tls.createServer(serverTlsOptions(server, { mode: "ISTIO_MUTUAL" }), (s) => s.destroy());
    srv.on("tlsClientError", () => {});
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    const opts = clientTlsOptions(client, { expectedSans: [server.spiffeId], alpn: ["h2"] });
    for (let i = 0; i < 50; i++) await handshake(port, opts); // warm-up
    let done = 0;
    const end = performance.now() + seconds * 1000;
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        await handshake(port, opts);
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, loop));
    const rate = done / ((performance.now() - started) / 1000);
    await new Promise<void>((r) => srv.close(() => r()));
    return rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`full mTLS handshakes/s, both ends in one Node ${process.version} thread, ${seconds} s per case`);
console.log("root        workload key   c=1     c=8");
for (const rootType of ["ecdsa-p256", "rsa-2048"] as const) {
  for (const keyType of ["ecdsa-p256", "rsa-2048"] as const) {
    const one = await measure(rootType, keyType, 1);
    const eight = await measure(rootType, keyType, 8);
    console.log(`${rootType.padEnd(11)} ${keyType.padEnd(14)} ${one.toFixed(0).padStart(5)}   ${eight.toFixed(0).padStart(5)}`);
  }
}
