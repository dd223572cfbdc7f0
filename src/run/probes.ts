// Before and during start-up: are the ports we need free, and is a child ready yet?
import { connect, createServer } from "node:net";
import { get } from "node:http";
import type { SupervisedChild } from "./supervisor.ts";

export interface PlannedListener {
  host: string;
  port: number;
  owner: string;
  /** The flag that moves it, named in the error ("--xds-address"). */
  flag?: string;
}

/** Resolves with the error code when host:port cannot be bound, undefined when it is free. */
export function portProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Returns one line per listener that is not free (empty when all are). */
export async function busyPorts(listeners: PlannedListener[]): Promise<string[]> {
  const problems: string[] = [];
  // Sequential on purpose: a few dozen binds take milliseconds, and the order of messages is stable.
  for (const l of listeners) {
    const code = await portProblem(l.host, l.port);
    if (code === undefined) continue;
    const fix = l.flag ? `stop it or pass ${l.flag}` : "stop it or pass another --subnet";
    problems.push(code === "EADDRINUSE"
      ? `port ${l.port} on ${l.host} is in use (another mizzen running?): ${fix}`
      : `cannot listen on ${l.host}:${l.port} for ${l.owner} (${code}): ${fix}`);
  }
  return problems;
}

function probeOnce(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

export class NotReadyError extends Error {
  override name = "NotReadyError";
}

/**
 * Polls url until it answers 200. Fails early, with the child's last output, if the child
 * exits meanwhile; fails after timeoutMs otherwise.
 */
export async function waitReady(url: string, child: SupervisedChild, timeoutMs: number, what: string): Promise<void> {
  const exitsBefore = child.exits;
  const deadline = Date.now() + timeoutMs;
  const lastLines = () => {
    const lines = child.lastLines(10);
    return lines.length ? ` Its last output:\n${lines.map((l) => `    ${l}`).join("\n")}` : " It printed nothing.";
  };
  while (Date.now() < deadline) {
    if (child.exits > exitsBefore) {
      const e = child.lastExit;
      const how = e?.signal ? `was killed by ${e.signal}` : `exited with code ${e?.code}`;
      throw new NotReadyError(`${what} ${how} before it was ready (${url}).${lastLines()}`);
    }
    if ((await probeOnce(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new NotReadyError(`${what} was not ready within ${Math.round(timeoutMs / 1000)}s (${url} did not answer 200).${lastLines()}`);
}

/** True once host:port accepts a TCP connection, false if it still does not after timeoutMs. */
export async function waitListening(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.setTimeout(1000, () => s.destroy());
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("close", () => resolve(false));
      s.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
