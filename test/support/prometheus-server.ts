// A real Prometheus server (Debian's `prometheus` package) for end-to-end tests: scrapes the
// given sidecars on /stats/prometheus (and optionally a control plane on /metrics) every
// second, and answers instant queries through its HTTP API.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./http.ts";

export const PROMETHEUS = "/usr/bin/prometheus";

export interface Sample { metric: Record<string, string>; value: [number, string] }

export interface PrometheusServer {
  url: string;
  /** One instant query; the result vector (throws on an API error). */
  query(promql: string): Promise<Sample[]>;
  /** Waits until every target has been scraped and is up. */
  waitAllUp(targets: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusTargets {
  /** host:port of sidecar metrics (podIP:15090). */
  sidecars: string[];
  /** host:port of a control plane's /metrics. */
  control?: string;
}

function config(t: PrometheusTargets): string {
  const lines = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    "scrape_configs:",
    "  - job_name: envoy-stats",
    "    metrics_path: /stats/prometheus",
    `    static_configs: [ { targets: [${t.sidecars.map((s) => `'${s}'`).join(", ")}] } ]`,
  ];
  if (t.control) lines.push("  - job_name: istiod", "    metrics_path: /metrics", `    static_configs: [ { targets: ['${t.control}'] } ]`);
  return `${lines.join("\n")}\n`;
}

/** Starts Prometheus with its config and TSDB in a temporary folder; resolves once it is ready. */
export async function startPrometheus(targets: PrometheusTargets): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install -y prometheus; .ci/run does it)`);
  const dir = mkdtempSync(join(tmpdir(), "mizzen-prometheus-tsdb-"));
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(configFile, config(targets));
  const port = await freePort();
  let out = "";
  const child: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
    if (body.status !== "success" || body.data?.resultType !== "vector") throw new Error(`query ${promql} failed: ${body.error ?? JSON.stringify(body).slice(0, 300)}`);
    return body.data.result;
  };
  try {
    await waitFor("Prometheus ready", async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${out.slice(-2000)}`);
      return (await fetch(`${url}/-/ready`)).status === 200;
    }, 15_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    query,
    async waitAllUp(n) {
      // Prometheus applies discovered targets a few seconds after start.
      await waitFor("every target scraped and up", async () => {
        const up = await query("up");
        return up.length === n && up.every((s) => s.value[1] === "1");
      }, 15_000, 250).catch(async (err) => {
        throw new Error(`${(err as Error).message}\ntargets: ${JSON.stringify(await query("up").catch((e) => String(e)))}\n${out.slice(-2000)}`);
      });
    },
    stop,
  };
}

/** Values by one label (its short service name when the label is destination_service). */
export function byLabel(samples: Sample[], label: string): Map<string, number> {
  return new Map(samples.map((s) => [(s.metric[label] ?? "").split(".")[0]!, Number(s.value[1])]));
}
