// `mizzen token issue|revoke`: bootstrap tokens for workloads started outside `mizzen up` (see
// docs/security.md). The token store is the control plane's (<data-dir>/tokens.json); a running
// control plane picks up new tokens without a restart.
import type { Command } from "commander";
import { join, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { UserError } from "./user-error.ts";

interface TokenFlags { namespace: string; serviceAccount: string; trustDomain: string; dataDir: string }

const TOKEN_STORE_FILE = "tokens.json";

async function store(dataDir: string) {
  const { BootstrapTokens } = await import("../ca/tokens.ts");
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  return new BootstrapTokens({ file: join(resolve(dataDir), TOKEN_STORE_FILE) });
}

async function identityOf(o: TokenFlags) {
  const { workloadIdentity } = await import("../ca/identity.ts");
  try {
    return workloadIdentity(o.trustDomain, o.namespace, o.serviceAccount);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

export function registerToken(program: Command): void {
  const token = program.command("token").description("bootstrap tokens: how a sidecar proves its identity to the CA");
  const common = (c: Command) => c
    .requiredOption("--namespace <ns>", "the workload's namespace")
    .requiredOption("--service-account <sa>", "the workload's service account")
    .option("--trust-domain <domain>", "SPIFFE trust domain", "cluster.local")
    .option("--data-dir <dir>", "the control plane's data directory", ".mizzen");
  common(token.command("issue").description("print a new token for one identity; give it to that workload's sidecar only (MIZZEN_BOOTSTRAP_TOKEN or --token-file)"))
    .action(async (o: TokenFlags) => {
      const id = await identityOf(o);
      const t = (await store(o.dataDir)).issue(id);
      process.stdout.write(`${t}\n`);
    });
  common(token.command("revoke").description("revoke every token of one identity; its sidecars can no longer renew certificates or connect"))
    .action(async (o: TokenFlags) => {
      const n = (await store(o.dataDir)).revokeIdentity(await identityOf(o));
      process.stdout.write(`revoked ${n} token(s) for ns/${o.namespace}/sa/${o.serviceAccount}\n`);
    });
}
