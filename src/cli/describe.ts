// `mizzen describe <service>`: everything that shapes one service's traffic in one place: its
// ports, the VirtualServices and DestinationRules that apply (with validation state), subsets,
// endpoints with health, and hints pointing at docs/errors.md when something looks wrong.
import type { ConfigError } from "../api/types.ts";
import { formatConfigError } from "../api/types.ts";
import type { Endpoint, Service, Workload } from "../registry/types.ts";
import { UserError } from "./user-error.ts";
import { controlJson, outputFormat, renderTable, type InspectOptions, type Output } from "./inspect-common.ts";

export interface DescribeOptions extends InspectOptions {
  namespace?: string;
}

interface ConfigzObject {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  file: string;
  line: number;
  state: string;
  errors: ConfigError[];
  spec?: Record<string, any>; // Istio spec JSON
}

export interface AppliedConfig {
  name: string;
  state: string;
  where: string;
  messages: string[];
}

export interface Description {
  service: { hostname: string; namespace: string; origin: string; ports: Service["ports"] };
  virtualServices: (AppliedConfig & { subsetsUsed: string[] })[];
  destinationRules: (AppliedConfig & { subsets: { name: string; labels: Record<string, string> }[] })[];
  endpoints: { port: number; address: string; healthy: boolean; workload: string; subsets: string[]; message?: string }[];
  hints: string[];
}

/** Does a host written in an object of namespace `ns` name this service? */
function hostNames(host: string, ns: string, s: Service): boolean {
  if (host === s.hostname) return true;
  if (host.startsWith("*")) return s.hostname.endsWith(host.slice(1));
  if (!s.aliases.includes(host)) return false;
  return host.includes(".") || ns === s.namespace;
}

function pickService(services: Service[], wanted: string, ns: string): Service {
  const found = services.filter((s) => s.hostname === wanted || (s.aliases.includes(wanted) && (wanted.includes(".") || s.namespace === ns)));
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new UserError(`service "${wanted}" is ambiguous: ${found.map((s) => s.hostname).join(", ")}; pass its full host name`);
  const known = services.map((s) => (s.namespace === ns ? s.aliases[0] ?? s.hostname : s.hostname)).sort();
  throw new UserError(`no service "${wanted}" in namespace ${ns}; known: ${known.join(", ") || "(none)"} (use NAME.NAMESPACE, a full host name, or -n NAMESPACE)`);
}

function applied(o: ConfigzObject): AppliedConfig {
  return { name: `${o.name}.${o.namespace}`, state: o.state, where: `${o.file}:${o.line}`, messages: o.errors.map(formatConfigError) };
}

/** Subsets a VirtualService sends this service's traffic to, from every route kind. */
function subsetsUsed(spec: Record<string, any> | undefined, ns: string, s: Service): string[] {
  const out = new Set<string>();
  for (const kind of ["http", "tcp", "tls"]) {
    for (const rule of spec?.[kind] ?? []) {
      for (const d of rule.route ?? []) {
        const dest = d.destination;
        if (dest?.subset && typeof dest.host === "string" && hostNames(dest.host, ns, s)) out.add(dest.subset);
      }
    }
  }
  return [...out].sort();
}

function labelsMatch(want: Record<string, string> | undefined, have: Record<string, string>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}

export async function describeService(wanted: string, o: DescribeOptions): Promise<Description> {
  const ns = o.namespace ?? "default";
  const [configz, registryz] = await Promise.all([
    controlJson<{ objects: ConfigzObject[] }>(o.control, "/debug/configz"),
    controlJson<{ services: Service[]; workloads: Workload[]; endpoints: Record<string, Endpoint[]> }>(o.control, "/debug/registryz"),
  ]);
  const s = pickService(registryz.services, wanted, ns);
  const shortName = s.aliases[0] ?? s.hostname;
  // Objects with a spec match by host; a rejected one with none in force, by name.
  const applies = (obj: ConfigzObject, hosts: unknown[]) =>
    obj.spec ? hosts.some((h) => typeof h === "string" && hostNames(h, obj.namespace, s)) : obj.name === shortName && obj.namespace === s.namespace;
  const vss = configz.objects.filter((x) => x.kind === "VirtualService" && applies(x, x.spec?.hosts ?? []));
  const drs = configz.objects.filter((x) => x.kind === "DestinationRule" && applies(x, [x.spec?.host]));

  const destinationRules = drs.map((d) => ({
    ...applied(d),
    subsets: ((d.spec?.subsets ?? []) as { name: string; labels?: Record<string, string> }[]).map((x) => ({ name: x.name, labels: x.labels ?? {} })),
  }));
  const allSubsets = destinationRules.flatMap((d) => d.subsets);
  const workloads = new Map(registryz.workloads.map((w) => [w.uid, w]));
  const endpoints: Description["endpoints"] = [];
  for (const p of s.ports) {
    for (const e of registryz.endpoints[`${s.hostname}:${p.number}`] ?? []) {
      const w = workloads.get(e.workloadUid);
      endpoints.push({
        port: p.number,
        address: `${e.address}:${e.port}`,
        healthy: e.healthy,
        workload: w ? `${w.name}.${w.namespace}` : e.workloadUid,
        subsets: allSubsets.filter((x) => labelsMatch(x.labels, e.labels)).map((x) => x.name),
        ...(w?.healthMessage && !e.healthy ? { message: w.healthMessage } : {}),
      });
    }
  }
  const virtualServices = vss.map((v) => ({ ...applied(v), subsetsUsed: subsetsUsed(v.spec, v.namespace, s) }));

  const hints: string[] = [];
  const unhealthy = endpoints.filter((e) => !e.healthy).length;
  if (endpoints.length === 0) {
    hints.push(`UH (503 "no healthy upstream"): ${shortName} has no endpoints: no workload matches its selector or none is running. Check /debug/registryz and the workloads' labels.`);
  } else if (unhealthy > 0) {
    hints.push(`UH (503 "no healthy upstream"): ${unhealthy} of ${endpoints.length} endpoints are unhealthy; when all of a cluster's are, clients get UH. Check the application behind each sidecar.`);
  }
  const defined = new Set(allSubsets.map((x) => x.name));
  for (const v of virtualServices) {
    for (const sub of v.subsetsUsed.filter((x) => !defined.has(x))) {
      hints.push(`NC (503, no cluster): VirtualService ${v.name} routes to subset "${sub}", which no DestinationRule for ${shortName} defines. Add it to the DestinationRule's subsets.`);
    }
  }
  for (const sub of defined) {
    const subset = allSubsets.find((x) => x.name === sub);
    if (endpoints.length > 0 && !endpoints.some((e) => e.subsets.includes(sub)) && virtualServices.some((v) => v.subsetsUsed.includes(sub))) {
      hints.push(`UH: subset "${sub}" (${Object.entries(subset?.labels ?? {}).map(([k, val]) => `${k}=${val}`).join(",")}) is routed to but selects no endpoint.`);
    }
  }
  if ([...vss, ...drs].some((x) => x.state !== "accepted")) {
    hints.push("Rejected config: the messages above say what to fix (file:line: field: reason); a rejected edit keeps the last good version in force.");
  }
  if (hints.length > 0) hints.push("Response flags and error codes: docs/errors.md");
  return { service: { hostname: s.hostname, namespace: s.namespace, origin: s.origin, ports: s.ports }, virtualServices, destinationRules, endpoints, hints };
}

function printConfigs(title: string, list: (AppliedConfig & { extra: string })[], out: Output): void {
  out.log("");
  if (list.length === 0) {
    out.log(`${title}: none`);
    return;
  }
  out.log(`${title}:`);
  for (const l of renderTable(["NAME", "STATE", "DETAIL", "FILE"], list.map((c) => [c.name, c.state, c.extra, c.where]))) out.log(`  ${l}`);
  for (const c of list) for (const m of c.messages) out.log(`  ${c.name}: ${m}`);
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
  out.log("");
  if (d.endpoints.length === 0) out.log("Endpoints: none");
  else {
    out.log("Endpoints:");
    const why = d.endpoints.some((e) => e.message); // the WHY column only when some endpoint has a reason
    const rows = d.endpoints.map((e) => [e.address, e.healthy ? "HEALTHY" : "UNHEALTHY", e.workload, e.subsets.join(",") || "-", ...(why ? [e.message ?? ""] : [])]);
    for (const l of renderTable(["ENDPOINT", "HEALTH", "WORKLOAD", "SUBSETS", ...(why ? ["WHY"] : [])], rows)) out.log(`  ${l}`);
  }
  if (d.hints.length > 0) {
    out.log("");
    out.log("What the flags mean here:");
    for (const h of d.hints) out.log(`  ${h}`);
  }
  return 0;
}
