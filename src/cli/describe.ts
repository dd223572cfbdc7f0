// `mizzen describe <service>`: everything that shapes one service's traffic in one place. The
// control plane computes the picture (/debug/describe: ports, VirtualServices, DestinationRules
// with validation state, policies, mTLS each way, endpoints, hints); the sidecars add the
// latest failed requests to or at the service (admin /recent_failures) with what each flag means.
import type { Description } from "../control/describe-model.ts";
import type { RecentFailure } from "../proxy/telemetry/recent-failures.ts";
import { explainFailure } from "../control/response-flags.ts";
import type { ProxySyncStatus } from "../xds/sync-status.ts";
import { UserError } from "./user-error.ts";
import { CONTROL_FIX, controlBase, controlJson, getJson, outputFormat, parseNodeId, proxyDisplayName, renderTable, type InspectOptions, type Output } from "./inspect-common.ts";

export interface DescribeOptions extends InspectOptions {
  namespace?: string;
  /** Sidecars' admin port on their pod IPs (default 15000). */
  adminPort?: number;
}

export interface SeenFailure extends RecentFailure {
  /** The sidecar that saw it ("name.namespace"). */
  proxy: string;
  /** What its flags (or details) mean. */
  meaning: string[];
}

export type ServiceDescription = Description & { recentFailures: SeenFailure[]; unreadSidecars: string[] };

const SHOWN_FAILURES = 5;

async function description(wanted: string, o: DescribeOptions): Promise<Description> {
  const q = `service=${encodeURIComponent(wanted)}&namespace=${encodeURIComponent(o.namespace ?? "default")}`;
  const { status, body } = await getJson<Description & { error?: string }>(`${controlBase(o.control)}/debug/describe?${q}`, "the control plane", CONTROL_FIX);
  if (status === 404 && body.error) throw new UserError(body.error);
  if (status !== 200) throw new UserError(`the control plane answered /debug/describe with status ${status}; is --control ${o.control} a Mizzen control plane's debug address?`);
  return body;
}

/** The cluster's host ("outbound|9080|v1|reviews.default.svc.cluster.local" -> the last part). */
function clusterHost(cluster: string): string {
  const parts = cluster.split("|");
  return parts.length === 4 ? parts[3] : "";
}

/** The host of an authority ("reviews:9080" -> "reviews"). */
function authorityHost(authority: string): string {
  return authority.startsWith("[") ? authority.slice(0, authority.indexOf("]") + 1) : authority.replace(/:\d+$/, "");
}

/**
 * Failures concerning the service: a client's outbound request to its host (by cluster, or by
 * authority when no route was found), or an inbound one
 * at a sidecar in front of one of its endpoints. Sidecars that cannot be read are listed, never fatal.
 */
async function recentFailures(d: Description, o: DescribeOptions): Promise<{ failures: SeenFailure[]; unread: string[] }> {
  const proxies = await controlJson<ProxySyncStatus[]>(o.control, "/debug/syncz");
  const endpointIps = new Set(d.endpoints.map((e) => e.address.replace(/:\d+$/, "")));
  const names = new Set([d.service.hostname, ...d.service.aliases]);
  const toService = (f: RecentFailure) => (f.upstreamCluster.includes("|") ? clusterHost(f.upstreamCluster) === d.service.hostname : names.has(authorityHost(f.authority)));
  const failures: SeenFailure[] = [];
  const unread: string[] = [];
  await Promise.all(
    proxies.map(async (p) => {
      const { ip } = parseNodeId(p.proxyId);
      if (!ip) return;
      const name = proxyDisplayName(p.proxyId);
      try {
        const res = await fetch(`http://${ip.includes(":") ? `[${ip}]` : ip}:${o.adminPort ?? 15000}/recent_failures`, { signal: AbortSignal.timeout(1000) });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        const page = (await res.json()) as { failures?: RecentFailure[] };
        for (const f of page.failures ?? []) {
          const ours = f.direction === "outbound" ? toService(f) : endpointIps.has(ip);
          if (ours) failures.push({ ...f, proxy: name, meaning: explainFailure(f.flags, f.details) });
        }
      } catch (err) {
        unread.push(`${name} (${(err as Error).message})`);
      }
    }),
  );
  failures.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return { failures: failures.slice(0, SHOWN_FAILURES), unread: unread.sort() };
}

export async function describeService(wanted: string, o: DescribeOptions): Promise<ServiceDescription> {
  const d = await description(wanted, o);
  const { failures, unread } = await recentFailures(d, o);
  return { ...d, recentFailures: failures, unreadSidecars: unread };
}

interface Listed {
  name: string;
  state: string;
  where: string;
  messages: string[];
  extra: string;
}

function printConfigs(title: string, list: Listed[], out: Output): void {
  out.log("");
  if (list.length === 0) {
    out.log(`${title}: none`);
    return;
  }
  out.log(`${title}:`);
  for (const l of renderTable(["NAME", "STATE", "DETAIL", "FILE"], list.map((c) => [c.name, c.state, c.extra, c.where]))) out.log(`  ${l}`);
  for (const c of list) for (const m of c.messages) out.log(`  ${c.name}: ${m}`);
}

function printEndpoints(d: Description, out: Output): void {
  out.log("");
  if (d.endpoints.length === 0) {
    out.log("Endpoints: none");
    return;
  }
  out.log("Endpoints:");
  const why = d.endpoints.some((e) => e.message); // the WHY column only when some endpoint has a reason
  const rows = d.endpoints.map((e) => [e.address, e.healthy ? "HEALTHY" : "UNHEALTHY", e.workload, e.subsets.join(",") || "-", ...(why ? [e.message ?? ""] : [])]);
  for (const l of renderTable(["ENDPOINT", "HEALTH", "WORKLOAD", "SUBSETS", ...(why ? ["WHY"] : [])], rows)) out.log(`  ${l}`);
}

function printMtls(d: Description, out: Output): void {
  out.log("");
  out.log("Mutual TLS:");
  out.log(`  clients send: ${d.mtls.client}`);
  if (d.mtls.server.length === 0) out.log("  workloads accept: no workload with a sidecar (PeerAuthentication does not apply)");
  else for (const l of renderTable(["WORKLOAD", "PORT", "ACCEPTS"], d.mtls.server.map((x) => [x.workload, String(x.port), x.mode === "STRICT" ? "STRICT (mTLS only)" : x.mode === "DISABLE" ? "DISABLE (plaintext only)" : "PERMISSIVE (mTLS or plaintext)"]))) out.log(`  ${l}`);
}

function printFailures(d: ServiceDescription, out: Output): void {
  out.log("");
  if (d.recentFailures.length === 0) out.log("Recent failed requests: none seen by the sidecars (TCP connections included)");
  else {
    out.log("Recent failed requests (newest first):");
    for (const f of d.recentFailures) {
      out.log(`  ${f.time} ${f.proxy} ${f.direction} ${f.method} ${f.authority}${f.path} -> ${f.method === "TCP" ? "connection closed" : f.status || "no response"} ${f.flags} ${f.details}${f.transportFailure !== "-" ? ` (${f.transportFailure})` : ""} request-id ${f.requestId}`);
      for (const m of f.meaning) out.log(`      ${m}`);
    }
  }
  if (d.unreadSidecars.length > 0) out.log(`  (could not read: ${d.unreadSidecars.join(", ")})`);
}

export async function describeCommand(wanted: string, o: DescribeOptions, out: Output): Promise<number> {
  const format = outputFormat(o);
  const d = await describeService(wanted, o);
  if (format === "json") {
    out.log(JSON.stringify(d, null, 2));
    return 0;
  }
  out.log(`Service: ${d.service.hostname} (from ${d.service.origin})`);
  for (const l of renderTable(["PORT", "NAME", "PROTOCOL", "TARGET PORT"], d.service.ports.map((p) => [String(p.number), p.name || "-", p.protocol, String(p.targetPort)]))) out.log(`  ${l}`);
  printConfigs("VirtualServices", d.virtualServices.map((v) => ({ ...v, extra: v.subsetsUsed.length ? `subsets used: ${v.subsetsUsed.join(", ")}` : "-" })), out);
  printConfigs("DestinationRules", d.destinationRules.map((r) => ({ ...r, extra: r.subsets.length ? `subsets: ${r.subsets.map((x) => `${x.name} (${Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(",")})`).join(", ")}` : "-" })), out);
  printConfigs("Policies", d.policies.map((p) => ({ ...p, name: `${p.kind} ${p.name}`, extra: p.workloads.length ? `selects ${p.workloads.join(", ")}` : "-" })), out);
  printMtls(d, out);
  printEndpoints(d, out);
  printFailures(d, out);
  if (d.hints.length > 0) {
    out.log("");
    out.log("What the flags mean here:");
    for (const h of d.hints) out.log(`  ${h}`);
  }
  return 0;
}
