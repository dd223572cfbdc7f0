// Runs the local mesh's child processes: prefixes each output line with the child's label,
// keeps the last lines for error reports, restarts a child that exits on its own (with
// backoff), and stops a child together with everything it started (its process group).
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";

export interface ChildSpec {
  /** Shown before each output line: "reviews-v2", "reviews-v2 sidecar", "control". */
  label: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Restart when it exits without being asked to (default true). */
  restart?: boolean;
}

export interface SupervisorOptions {
  out: NodeJS.WritableStream;
  /** Pad labels to this width so the "│" columns line up. */
  labelWidth?: number;
  color?: boolean;
  /** How long a child gets between SIGTERM and SIGKILL (default 3000 ms). */
  stopGraceMs?: number;
  /** First restart delay, doubled per consecutive crash up to maxBackoffMs (defaults 500 / 15000). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run longer than this resets the backoff (default 10000 ms). */
  resetBackoffAfterMs?: number;
  /** Lines kept for error reports (default 20). */
  tailLines?: number;
}

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92, 94];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export class SupervisedChild {
  readonly spec: ChildSpec;
  /** How many times a process of this child has exited (for readiness checks). */
  exits = 0;
  restarts = 0;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly tail: string[] = [];
  private readonly sup: Supervisor;
  private readonly prefix: string;

  constructor(sup: Supervisor, spec: ChildSpec, prefix: string) {
    this.sup = sup;
    this.spec = spec;
    this.prefix = prefix;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** True while a process of this child runs (not during a restart backoff). */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  lastLines(n = this.tail.length): string[] {
    return this.tail.slice(-n);
  }

  /** Starts the process. Spawn failures (e.g. command not found) surface as an exit. */
  start(): void {
    const { spec } = this;
    const started = Date.now();
    const proc = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: stop() signals the group, so grandchildren go too, and the
      // terminal's Ctrl-C reaches only the runner, which stops children in order.
      detached: true,
    });
    this.proc = proc;
    this.pipe(proc.stdout);
    this.pipe(proc.stderr);
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.exits++;
        this.lastExit = { code, signal };
        resolve();
        this.afterExit(Date.now() - started);
      };
      proc.on("error", (err) => {
        this.line(`cannot start ${spec.command}: ${err.message}`);
        finish(127, null);
      });
      proc.on("exit", finish);
    });
  }

  private pipe(stream: Readable | null): void {
    if (!stream) return;
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) this.line(l.replace(/\r$/, ""));
    });
    stream.on("end", () => {
      if (partial) this.line(partial);
      partial = "";
    });
  }

  private line(text: string): void {
    this.tail.push(text);
    if (this.tail.length > this.sup.tailLines) this.tail.shift();
    this.sup.out.write(`${this.prefix}${text}\n`);
  }

  private afterExit(ranMs: number): void {
    if (this.stopping) return;
    const { code, signal } = this.lastExit ?? { code: null, signal: null };
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.spec.restart === false) {
      this.sup.note(`${this.spec.label} ${how}; not restarting`);
      return;
    }
    this.failures = ranMs > this.sup.resetBackoffAfterMs ? 1 : this.failures + 1;
    const delay = Math.min(this.sup.maxBackoffMs, this.sup.initialBackoffMs * 2 ** (this.failures - 1));
    const last = this.lastLines(5);
    this.sup.note(`${this.spec.label} ${how}; restarting in ${(delay / 1000).toFixed(1)}s${last.length ? `. Last lines:\n${last.map((l) => `    ${l}`).join("\n")}` : ""}`);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.start();
    }, delay);
  }

  /** SIGTERM to the whole process group, SIGKILL after the grace period; no restart after. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const pid = this.proc?.pid;
    if (pid === undefined) return;
    if (!groupAlive(pid)) return this.exited;
    signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + this.sup.stopGraceMs;
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (graceTimer = setTimeout(r, this.sup.stopGraceMs)))]);
    clearTimeout(graceTimer); // a pending timer would keep the runner alive after everything stopped
    // The leader is gone (or out of time); give the rest of its group what is left of the grace.
    while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pid)) signalGroup(pid, "SIGKILL");
    await this.exited;
  }

  /** Synchronous last resort when the runner itself is exiting. */
  killNow(): void {
    this.stopping = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    if (this.proc?.pid !== undefined) signalGroup(this.proc.pid, "SIGKILL");
  }
}

export class Supervisor {
  readonly out: NodeJS.WritableStream;
  readonly stopGraceMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly resetBackoffAfterMs: number;
  readonly tailLines: number;
  readonly children: SupervisedChild[] = [];
  private readonly labelWidth: number;
  private readonly color: boolean;

  constructor(opts: SupervisorOptions) {
    this.out = opts.out;
    this.labelWidth = opts.labelWidth ?? 0;
    this.color = opts.color ?? false;
    this.stopGraceMs = opts.stopGraceMs ?? 3000;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15000;
    this.resetBackoffAfterMs = opts.resetBackoffAfterMs ?? 10000;
    this.tailLines = opts.tailLines ?? 20;
  }

  /** The prefix put before each line of a child's output. */
  prefixFor(label: string): string {
    const text = `${label.padEnd(this.labelWidth)} │ `;
    if (!this.color) return text;
    const code = COLORS[this.children.length % COLORS.length];
    return `\x1b[${code}m${text}\x1b[0m`;
  }

  start(spec: ChildSpec): SupervisedChild {
    const child = new SupervisedChild(this, spec, this.prefixFor(spec.label));
    this.children.push(child);
    child.start();
    return child;
  }

  /** A runner message (not from a child), marked so it stands out among child output. */
  note(text: string): void {
    this.out.write(`${"mizzen".padEnd(this.labelWidth)} │ ${text}\n`);
  }

  /** SIGKILL every child's process group now (used from process 'exit', which must be sync). */
  killAllNow(): void {
    for (const c of this.children) c.killNow();
  }
}
