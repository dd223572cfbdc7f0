// Child processes a benchmark starts: keeps the last output lines for error messages,
// waits for readiness, and stops every child it started (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";

export interface BenchChild {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The last lines the child printed (stdout and stderr). */
  tail(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const started = new Set<BenchChild>();

export function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): BenchChild {
  const proc = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(l);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child: BenchChild = {
    name,
    proc,
    pid: proc.pid,
    tail: () => lines.slice(-15).join("\n"),
    async stop(graceMs = 5000) {
      started.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  started.add(child);
  return child;
}

/** Stops every child still running (used in finally blocks and on exit). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...started].map((c) => c.stop(2000)));
}

process.on("exit", () => {
  for (const c of started) c.proc.kill("SIGKILL");
});

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** Polls until check() is true; throws with the child's output after timeoutMs. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: BenchChild): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.proc.exitCode !== null) throw new Error(`${child.name} exited (code ${child.proc.exitCode}) before ${what}:\n${child.tail()}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${child ? `; ${child.name} printed:\n${child.tail()}` : ""}`);
}

/** True when url answers with the given status. */
export async function answers(url: string, status = 200): Promise<boolean> {
  return (await httpStatus(url)) === status;
}

/** True when host:port accepts a TCP connection. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(1000, () => s.destroy());
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("close", () => resolve(false));
  });
}

/** GET through an explicit HTTP proxy (absolute-form target), resolving with the status. */
export function statusViaProxy(proxyHost: string, proxyPort: number, url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: proxyHost, port: proxyPort, path: url, headers: { host: new URL(url).host }, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}
