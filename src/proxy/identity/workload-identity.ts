// The sidecar's workload identity: a private key made in memory, a certificate for it from the
// mesh CA, and rotation before that certificate expires (istio-agent's SDS job, in-process).
//
// - start() gets the first certificate, retrying with backoff until a deadline; a refusal that
//   retrying cannot fix (the token, the CSR) fails at once. Errors say what to change.
// - At rotateAt of the lifetime (Istio's SECRET_GRACE_PERIOD_RATIO 0.5, with a little jitter so
//   replicas do not all call at once) a new key and CSR are made and the new certificate
//   replaces the old one, then onRotate listeners run (they rebuild TLS contexts; connections
//   already open keep the context they started with).
// - A failed rotation keeps the current certificate and retries with backoff; each reason is
//   logged once per streak of failures, and a certificate that runs out is logged as an error.
// - Every answer is validated (validate-chain.ts) before it is used.
import type * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { pino, type Logger } from "pino";
import { caCredentials, requestSignedChain } from "./ca-call.ts";
import { IdentityError, isIdentityError, isPermanent } from "./errors.ts";
import { backoffDelay, runAt, type AbsoluteTimer } from "./timers.ts";
import { parseTrustBundle, validateIssuedChain, type TrustBundle, type WorkloadCertificate } from "./validate-chain.ts";
import { generateWorkloadKey, type WorkloadKey, type WorkloadKeyType } from "./workload-key.ts";

export type { WorkloadCertificate } from "./validate-chain.ts";

/** The DNS name Mizzen's control plane serves its CA under when the address is an IP. */
export const DEFAULT_CA_SERVER_NAME = "mizzen-control";

export interface WorkloadIdentityOptions {
  /** host:port of the CA (the control plane's TLS port, 15012). */
  caAddress: string;
  /** The bootstrap token, sent as `authorization: Bearer <token>`. */
  token: string;
  /** PEM mesh root(s): verify the CA's server certificate, and become the workload's trust bundle. */
  caRootPem: string;
  /** DNS name the CA's certificate must carry. Default: the host of caAddress, or "mizzen-control" when that is an IP. */
  caServerName?: string;
  /** Requested validity in seconds; 0 or absent = the CA's default. */
  lifetimeSeconds?: number;
  /** Default ECDSA P-256 (cheaper handshakes than RSA 2048). */
  keyType?: WorkloadKeyType;
  logger?: Logger;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  /** Fraction of the lifetime after which to rotate. Default 0.5. */
  rotateAt?: number;
  /** Random spread around rotateAt, as a fraction of the lifetime. Default 0.01. */
  rotateJitter?: number;
  /** How long start() keeps trying. Default 60 s. */
  startTimeoutMs?: number;
  /** Deadline of one CA call. Default 10 s. */
  requestTimeoutMs?: number;
  /** First retry delay, doubling up to retryMaxMs (and never more than a tenth of the lifetime). Defaults 500 ms, 30 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Sent in the request's metadata (Istio's agent sends e.g. ClusterID, WorkloadName). */
  metadata?: Record<string, string>;
}

export type RotateListener = (next: WorkloadCertificate, previous: WorkloadCertificate) => void;

function configError(message: string): IdentityError {
  return new IdentityError("MIZZEN_E_IDENTITY_CONFIG", "bad_option", message);
}

function checkFraction(name: string, v: number, lo: number, hi: number): number {
  if (typeof v !== "number" || !(v > lo && v < hi)) throw configError(`${name} must be a number between ${lo} and ${hi} (exclusive), got ${String(v)}`);
  return v;
}

function checkMs(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw configError(`${name} must be a positive number of milliseconds, got ${String(v)}`);
  return v;
}

/** The host of "host:port" / "[v6]:port"; throws when there is no port. */
function hostOf(address: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(typeof address === "string" ? address : "");
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw configError(`caAddress "${String(address)}" is not host:port (e.g. 127.0.0.1:15012)`);
  return (m[1] ?? m[2])!;
}

function withoutCode(e: IdentityError): string {
  return e.message.slice(e.code.length + 2);
}

export class WorkloadIdentityManager {
  readonly #address: string;
  readonly #serverName: string;
  readonly #token: string;
  readonly #trust: TrustBundle;
  readonly #credentials: grpc.ChannelCredentials;
  readonly #lifetimeSeconds: number;
  readonly #keyType: WorkloadKeyType;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #rotateAt: number;
  readonly #jitter: number;
  readonly #startTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #metadata: Record<string, string> | undefined;

  #state: "new" | "starting" | "running" | "stopped" = "new";
  #current: WorkloadCertificate | undefined;
  readonly #listeners = new Set<RotateListener>();
  #rotationTimer: AbsoluteTimer | undefined;
  #expiryTimer: AbsoluteTimer | undefined;
  #wake: (() => void) | undefined;
  /** The key of the rotation in progress, reused by its retries. */
  #pendingKey: WorkloadKey | undefined;
  #failures = 0;
  readonly #loggedReasons = new Set<string>();

  constructor(opts: WorkloadIdentityOptions) {
    const host = hostOf(opts.caAddress);
    this.#address = opts.caAddress;
    this.#serverName = opts.caServerName ?? (isIP(host) ? DEFAULT_CA_SERVER_NAME : host);
    if (!this.#serverName || isIP(this.#serverName)) throw configError(`caServerName "${this.#serverName}" must be a DNS name in the CA's certificate (e.g. ${DEFAULT_CA_SERVER_NAME})`);
    if (typeof opts.token !== "string" || opts.token.trim() === "") throw configError("no bootstrap token was given (pass the token the control plane issued for this workload)");
    this.#token = opts.token.trim();
    this.#trust = parseTrustBundle(opts.caRootPem, "caRootPem");
    this.#credentials = caCredentials(this.#trust.pem);
    const lifetime = opts.lifetimeSeconds ?? 0;
    if (!Number.isSafeInteger(lifetime) || lifetime < 0) throw configError(`lifetimeSeconds must be a whole number of seconds (0 = the CA's default), got ${String(lifetime)}`);
    this.#lifetimeSeconds = lifetime;
    this.#keyType = opts.keyType ?? "ecdsa-p256";
    if (this.#keyType !== "ecdsa-p256" && this.#keyType !== "rsa-2048") throw configError(`keyType must be "ecdsa-p256" or "rsa-2048", got "${String(this.#keyType)}"`);
    this.#log = opts.logger ?? pino({ level: "silent" });
    this.#now = opts.now ?? Date.now;
    this.#rotateAt = checkFraction("rotateAt", opts.rotateAt ?? 0.5, 0, 1);
    this.#jitter = opts.rotateJitter ?? 0.01;
    if (!(this.#jitter >= 0 && this.#jitter < Math.min(this.#rotateAt, 1 - this.#rotateAt))) throw configError(`rotateJitter must be at least 0 and less than min(rotateAt, 1 - rotateAt), got ${String(opts.rotateJitter)}`);
    this.#startTimeoutMs = checkMs("startTimeoutMs", opts.startTimeoutMs ?? 60_000);
    this.#requestTimeoutMs = checkMs("requestTimeoutMs", opts.requestTimeoutMs ?? 10_000);
    this.#retryInitialMs = checkMs("retryInitialMs", opts.retryInitialMs ?? 500);
    this.#retryMaxMs = checkMs("retryMaxMs", opts.retryMaxMs ?? 30_000);
    this.#metadata = opts.metadata;
  }

  /** Gets the first certificate. Rejects with an IdentityError saying what failed and how to fix it. */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`WorkloadIdentityManager.start() called when ${this.#state}`);
    this.#state = "starting";
    const deadline = this.#now() + this.#startTimeoutMs;
    const key = await generateWorkloadKey(this.#keyType);
    // The most telling failure so far: a timeout of the last, deadline-shortened call says less than what came before it.
    let telling: IdentityError | undefined;
    for (let attempt = 0; ; attempt++) {
      if (this.#isStopped()) throw new Error("the workload identity was stopped before it got a certificate");
      const left = deadline - this.#now();
      try {
        const cert = await this.#obtain(key, Math.max(1, Math.min(this.#requestTimeoutMs, left)));
        if (this.#isStopped()) throw new Error("the workload identity was stopped before it got a certificate");
        this.#install(cert);
        this.#state = "running";
        this.#log.info({ spiffeId: cert.spiffeId, serial: cert.serial, notAfter: cert.notAfter.toISOString(), keyType: this.#keyType, attempts: attempt + 1 }, "workload certificate obtained");
        this.#endFailureStreak();
        return;
      } catch (e) {
        if (!isIdentityError(e)) throw e;
        if (isPermanent(e)) {
          this.#log.error({ reason: e.reason, code: e.code }, e.message);
          throw e;
        }
        if (!telling || e.reason !== "ca_timeout") telling = e;
        const remaining = deadline - this.#now();
        if (remaining <= 0) {
          throw new IdentityError(telling.code, telling.reason, `no workload certificate after ${Math.round(this.#startTimeoutMs / 1000)} s (${attempt + 1} attempts); last failure: ${withoutCode(telling)}`);
        }
        const wait = Math.min(remaining, backoffDelay(attempt, this.#retryInitialMs, this.#retryMaxMs));
        this.#noteFailure(e, "first certificate", wait);
        await this.#sleep(wait);
      }
    }
  }

  /** The certificate in force; throws before start() has resolved. */
  current(): WorkloadCertificate {
    if (!this.#current) throw new Error("no workload certificate yet: await start() first");
    return this.#current;
  }

  /** Called after each rotation with the new and the previous certificate; returns an unsubscribe function. */
  onRotate(fn: RotateListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stops rotation; the current certificate stays readable. */
  stop(): void {
    this.#state = "stopped";
    this.#rotationTimer?.cancel();
    this.#expiryTimer?.cancel();
    this.#wake?.();
  }

  #isStopped(): boolean {
    return this.#state === "stopped";
  }

  async #obtain(key: WorkloadKey, timeoutMs: number): Promise<WorkloadCertificate> {
    const chain = await requestSignedChain({
      caAddress: this.#address,
      caServerName: this.#serverName,
      credentials: this.#credentials,
      token: this.#token,
      csrPem: key.csrPem,
      validitySeconds: this.#lifetimeSeconds,
      metadata: this.#metadata,
      timeoutMs,
    });
    return validateIssuedChain(chain, key, this.#trust, new Date(this.#now()));
  }

  #install(cert: WorkloadCertificate): void {
    this.#current = cert;
    this.#expiryTimer?.cancel();
    this.#expiryTimer = runAt(cert.notAfter.getTime(), this.#now, () => {
      if (this.#current === cert && !this.#isStopped()) {
        this.#log.error({ spiffeId: cert.spiffeId, serial: cert.serial, notAfter: cert.notAfter.toISOString() }, "the workload certificate has EXPIRED and could not be renewed: peers will refuse mTLS from this sidecar until the CA answers again");
      }
    });
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
    const fraction = this.#rotateAt + (Math.random() * 2 - 1) * this.#jitter;
    this.#rotationTimer?.cancel();
    this.#rotationTimer = runAt(cert.notBefore.getTime() + lifetime * fraction, this.#now, () => void this.#rotate(0));
  }

  async #rotate(attempt: number): Promise<void> {
    if (this.#isStopped()) return;
    const old = this.current();
    let next: WorkloadCertificate;
    try {
      this.#pendingKey ??= await generateWorkloadKey(this.#keyType);
      next = await this.#obtain(this.#pendingKey, this.#requestTimeoutMs);
    } catch (e) {
      if (this.#isStopped()) return;
      const err = isIdentityError(e) ? e : new IdentityError("MIZZEN_E_IDENTITY_BAD_RESPONSE", "internal", `rotation failed: ${(e as Error).message}`);
      // Short-lived certificates must be retried often enough to be renewed before they run out.
      const lifetime = old.notAfter.getTime() - old.notBefore.getTime();
      const cap = Math.max(100, Math.min(this.#retryMaxMs, lifetime / 10));
      const wait = backoffDelay(attempt, Math.min(this.#retryInitialMs, cap), cap);
      this.#noteFailure(err, "rotation", wait);
      this.#rotationTimer?.cancel();
      this.#rotationTimer = runAt(this.#now() + wait, this.#now, () => void this.#rotate(attempt + 1));
      return;
    }
    if (this.#isStopped()) return;
    this.#pendingKey = undefined;
    this.#install(next);
    this.#log.info(
      { spiffeId: next.spiffeId, serial: next.serial, previousSerial: old.serial, notAfter: next.notAfter.toISOString(), failedAttempts: this.#failures || undefined },
      "workload certificate rotated",
    );
    if (next.spiffeId !== old.spiffeId) this.#log.warn({ from: old.spiffeId, to: next.spiffeId }, "the CA issued a different identity than before (the bootstrap token now maps to another service account)");
    this.#endFailureStreak();
    for (const fn of this.#listeners) {
      try {
        fn(next, old);
      } catch (e) {
        this.#log.error({ err: e }, "an onRotate listener threw; the new certificate is in force regardless");
      }
    }
  }

  /** Logs a failure the first time its reason appears in the current streak, then only at debug. */
  #noteFailure(e: IdentityError, during: string, retryInMs: number): void {
    this.#failures++;
    const expired = this.#current !== undefined && this.#current.notAfter.getTime() <= this.#now();
    const fields = { reason: e.reason, code: e.code, during, failures: this.#failures, retryInMs, expired: expired || undefined };
    if (this.#loggedReasons.has(e.reason)) {
      this.#log.debug(fields, e.message);
      return;
    }
    this.#loggedReasons.add(e.reason);
    if (expired) this.#log.error(fields, `${e.message} (the current certificate has expired)`);
    else this.#log.warn(fields, during === "rotation" ? `${e.message} (keeping the current certificate)` : e.message);
  }

  #endFailureStreak(): void {
    this.#failures = 0;
    this.#loggedReasons.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
