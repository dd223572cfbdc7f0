// Reads a sidecar's admin port: /stats counters ("name: value" lines) and /config_dump, so a
// benchmark can count connections and TLS handshakes and check which config a proxy runs.
import { request } from "node:http";

function getText(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Parses the admin's /stats text into name -> value. */
export function parseStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const at = line.lastIndexOf(": ");
    if (at <= 0) continue;
    const v = Number(line.slice(at + 2));
    if (Number.isFinite(v)) out.set(line.slice(0, at), v);
  }
  return out;
}

export async function readStats(host: string, adminPort: number): Promise<Map<string, number>> {
  const r = await getText(`http://${host}:${adminPort}/stats`);
  if (r.status !== 200) throw new Error(`GET http://${host}:${adminPort}/stats answered ${r.status}`);
  return parseStats(r.body);
}

/** after - before for each named counter (a counter absent counts as 0). */
export function statDeltas(before: Map<string, number>, after: Map<string, number>, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (after.get(n) ?? 0) - (before.get(n) ?? 0);
  return out;
}

export interface DumpedResources {
  clusters: Record<string, unknown>[];
  listeners: Record<string, unknown>[];
}

/** The clusters and listeners a sidecar runs now, from /config_dump. */
export async function readConfig(host: string, adminPort: number): Promise<DumpedResources> {
  const r = await getText(`http://${host}:${adminPort}/config_dump`);
  if (r.status !== 200) throw new Error(`GET http://${host}:${adminPort}/config_dump answered ${r.status}`);
  const dump = JSON.parse(r.body) as { configs: Record<string, unknown>[] };
  const out: DumpedResources = { clusters: [], listeners: [] };
  for (const c of dump.configs) {
    for (const l of (c.dynamic_listeners as { active_state?: { listener?: Record<string, unknown> } }[] | undefined) ?? []) {
      if (l.active_state?.listener) out.listeners.push(l.active_state.listener);
    }
    for (const cl of (c.dynamic_active_clusters as { cluster?: Record<string, unknown> }[] | undefined) ?? []) {
      if (cl.cluster) out.clusters.push(cl.cluster);
    }
  }
  return out;
}
