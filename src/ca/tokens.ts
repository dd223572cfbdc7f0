// Bootstrap tokens: how a workload proves who it is when there is no Kubernetes to vouch for it.
//
// Design. In Kubernetes, istio-agent presents the pod's projected service-account JWT and istiod
// asks the API server who it belongs to. Without Kubernetes, Mizzen uses join tokens instead:
//   - whoever starts a workload (the local runner, or an operator's provisioning script) asks
//     the control plane to `issue(identity)` and hands the token to that workload's sidecar
//     only (an environment variable or a 0600 file), exactly like a cluster join token;
//   - the sidecar sends it as `authorization: Bearer <token>` when it asks the CA to sign its
//     CSR; the CA signs for the identity the token maps to, never for what the CSR names.
// A token is 256 random bits (base64url, prefixed "mzt1." so a leaked one is recognisable in
// logs and secret scanners). Only its SHA-256 is kept, in memory and optionally in a 0600
// JSON file so tokens survive a control-plane restart; a copy of the store therefore cannot
// be replayed. Lookup is by that hash: comparing hashes of 256-bit secrets leaks nothing useful
// through timing, since an attacker would need a preimage. Each token names exactly one
// identity; several tokens may name the same identity (replicas of one service account).
// Tokens do not expire on their own (a workload re-presents its token at every rotation);
// `revoke` / `revokeIdentity` end them.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { CaError } from "./errors.ts";
import { formatSpiffeId, parseSpiffeId, type WorkloadIdentity } from "./identity.ts";

const PREFIX = "mzt1.";
const TOKEN_SHAPE = /^mzt1\.[A-Za-z0-9_-]{43}$/;

interface TokenRecord {
  spiffeId: string;
  identity: WorkloadIdentity;
  issuedAt: string;
}

interface StoreFile {
  version: 1;
  tokens: Array<{ sha256: string; spiffeId: string; issuedAt: string }>;
}

export interface BootstrapTokensOptions {
  /** JSON file holding the token hashes (mode 0600); absent means in memory only. */
  file?: string;
  now?: () => Date;
}

function tokenError(reason: string, message: string): CaError {
  return new CaError("MIZZEN_E_CA_TOKEN", reason, message);
}

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export class BootstrapTokens {
  readonly #byHash = new Map<string, TokenRecord>();
  readonly #file: string | undefined;
  readonly #now: () => Date;

  constructor(opts: BootstrapTokensOptions = {}) {
    this.#file = opts.file;
    this.#now = opts.now ?? (() => new Date());
    if (this.#file && existsSync(this.#file)) this.#load(this.#file);
  }

  /** A new token for `identity`; the caller must hand it to that workload alone. */
  issue(identity: WorkloadIdentity): string {
    const spiffeId = formatSpiffeId(identity); // validates
    const token = PREFIX + randomBytes(32).toString("base64url");
    this.#byHash.set(hashToken(token), { spiffeId, identity: parseSpiffeId(spiffeId), issuedAt: this.#now().toISOString() });
    this.#save();
    return token;
  }

  /** The identity `token` was issued for; throws a CaError (reason missing_token / bad_token / unknown_token). */
  verify(token: string | undefined): WorkloadIdentity {
    if (token === undefined || token === "") throw tokenError("missing_token", "no bootstrap token was presented (send `authorization: Bearer <token>` with the token the runner gave this workload)");
    if (!TOKEN_SHAPE.test(token)) throw tokenError("bad_token", "the bootstrap token is malformed (expected mzt1.<43 base64url characters>)");
    const rec = this.#byHash.get(hashToken(token)) ?? this.#reloadIfChanged()?.get(hashToken(token));
    if (!rec) throw tokenError("unknown_token", "the bootstrap token is not known to this control plane (revoked, or issued by another one); ask the runner for a new token");
    return rec.identity;
  }

  revoke(token: string): boolean {
    const removed = this.#byHash.delete(hashToken(token));
    if (removed) this.#save();
    return removed;
  }

  /** Revokes every token of one identity; returns how many. */
  revokeIdentity(identity: WorkloadIdentity): number {
    const spiffeId = formatSpiffeId(identity);
    let n = 0;
    for (const [h, rec] of this.#byHash) if (rec.spiffeId === spiffeId && this.#byHash.delete(h)) n++;
    if (n) this.#save();
    return n;
  }

  get size(): number {
    return this.#byHash.size;
  }

  /**
   * Tokens issued by another process into the same file (`mizzen token issue`, or a runner
   * that started after this control plane) become known without a restart.
   */
  #reloadIfChanged(): Map<string, TokenRecord> | undefined {
    if (!this.#file || !existsSync(this.#file)) return undefined;
    const mtime = statSync(this.#file).mtimeMs;
    if (mtime === this.#loadedMtime) return undefined;
    try {
      this.#load(this.#file);
    } catch {
      return undefined; // a half-written or broken file: keep what we know
    }
    return this.#byHash;
  }

  #loadedMtime = 0;

  #load(file: string): void {
    this.#loadedMtime = statSync(file).mtimeMs;
    let parsed: StoreFile;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8")) as StoreFile;
    } catch (e) {
      throw new CaError("MIZZEN_E_CA_STORE", "bad_token_store", `${file}: not a readable token store: ${(e as Error).message} (remove it to start with no tokens)`);
    }
    if (parsed?.version !== 1 || !Array.isArray(parsed.tokens)) {
      throw new CaError("MIZZEN_E_CA_STORE", "bad_token_store", `${file}: expected {"version":1,"tokens":[...]} (remove it to start with no tokens)`);
    }
    parsed.tokens.forEach((t, i) => {
      if (typeof t?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(t.sha256)) {
        throw new CaError("MIZZEN_E_CA_STORE", "bad_token_store", `${file}: tokens[${i}].sha256 is not a SHA-256 hex digest`);
      }
      let identity: WorkloadIdentity;
      try {
        identity = parseSpiffeId(t.spiffeId);
      } catch (e) {
        throw new CaError("MIZZEN_E_CA_STORE", "bad_token_store", `${file}: tokens[${i}].spiffeId: ${(e as Error).message}`);
      }
      this.#byHash.set(t.sha256, { spiffeId: t.spiffeId, identity, issuedAt: String(t.issuedAt ?? "") });
    });
  }

  #save(): void {
    if (!this.#file) return;
    const body: StoreFile = {
      version: 1,
      tokens: [...this.#byHash].map(([sha256, r]) => ({ sha256, spiffeId: r.spiffeId, issuedAt: r.issuedAt })),
    };
    const tmp = `${this.#file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.#file);
    this.#loadedMtime = statSync(this.#file).mtimeMs;
  }
}
