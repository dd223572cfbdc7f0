// Runs wrk (HTTP/1.1, keep-alive) and returns its numbers. A generated Lua script prints the
// exact latency percentiles as JSON in wrk's done() hook, so nothing is parsed from the
// human summary; the same script can turn requests into proxy requests (absolute-form URI).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WrkOptions {
  /** Where wrk connects, "http://host:port/". */
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** Request target to send instead of the URL's path, e.g. "http://upstream:8080/" for a proxy. */
  requestTarget?: string;
  /** Host header to send instead of the URL's authority. */
  hostHeader?: string;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerS: number;
  bytesRead: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Non-2xx/3xx responses plus socket errors: any of these makes the run suspect. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

const MARK = "BENCH_JSON ";

function luaScript(o: WrkOptions): string {
  const lines: string[] = [];
  if (o.requestTarget) lines.push(`wrk.path = ${JSON.stringify(o.requestTarget)}`);
  if (o.hostHeader) lines.push(`wrk.headers["Host"] = ${JSON.stringify(o.hostHeader)}`);
  lines.push(
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    `  io.write(string.format('${MARK}{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\\n',`,
    "    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,",
    "    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))",
    "end",
  );
  return lines.join("\n") + "\n";
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "mizzen-wrk-"));
  const script = join(dir, "bench.lua");
  writeFileSync(script, luaScript(o));
  const args = ["-t", String(o.threads), "-c", String(o.connections), "-d", `${o.durationS}s`, "--timeout", "5s", "-s", script, o.url];
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile("wrk", args, { timeout: (o.durationS + 30) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
        if (err) reject(new Error(`wrk ${args.join(" ")} failed: ${err.message}\n${errOut}`));
        else resolve(out);
      });
    });
    const line = stdout.split("\n").find((l) => l.startsWith(MARK));
    if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
    const j = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
    const us = (k: string) => j[k]! / 1000;
    const durationS = j.duration_us! / 1e6;
    return {
      requests: j.requests!,
      durationS,
      requestsPerS: j.requests! / durationS,
      bytesRead: j.bytes!,
      p50Ms: us("p50"),
      p90Ms: us("p90"),
      p99Ms: us("p99"),
      maxMs: us("max"),
      meanMs: us("mean"),
      errors: { connect: j.connect!, read: j.read!, write: j.write!, status: j.status!, timeout: j.timeout! },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Errors summed; 0 for a clean run. */
export function errorCount(r: WrkResult): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}
