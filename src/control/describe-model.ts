// Everything that shapes one service's traffic, computed from the control plane's own state:
// its ports, the VirtualServices and DestinationRules for its host (with validation state),
// the policies selecting its workloads, whether mTLS is on each way, its endpoints with
// health, and hints naming the response flag a visible mistake would cause. Pure: served as
// /debug/describe for `mizzen describe` and read by the dashboard's details panel.
import type { ConfigObject } from "../api/types.ts";
import { formatConfigError } from "../api/types.ts";
import type { ObjectStatus } from "../config/store.ts";
import type { Registry, Service, Workload } from "../registry/types.ts";
import { effectiveMtlsMode, type MtlsMode } from "../translate/peer-authentication.ts";
import { appliesToWorkload } from "../translate/selector-keys.ts";

export interface AppliedConfig {
  kind: string;
  name: string;
  state: string;
  where: string;
  messages: string[];
}

export interface DescribedEndpoint {
  port: number;
  address: string;
  healthy: boolean;
  workload: string;
  subsets: string[];
  message?: string;
}

export interface Description {
  service: { hostname: string; aliases: string[]; namespace: string; origin: string; ports: Service["ports"] };
  virtualServices: (AppliedConfig & { subsetsUsed: string[] })[];
  destinationRules: (AppliedConfig & { subsets: { name: string; labels: Record<string, string> }[] })[];
  /** AuthorizationPolicy, PeerAuthentication, RequestAuthentication and Telemetry selecting a workload of the service. */
  policies: (AppliedConfig & { workloads: string[] })[];
  mtls: {
    /** What clients' sidecars send: the DestinationRule's tls.mode, or auto mTLS. */
    client: string;
    /** The PeerAuthentication mode each backing workload's port runs. */
    server: { workload: string; port: number; mode: MtlsMode }[];
  };
  endpoints: DescribedEndpoint[];
  hints: string[];
}

export interface DescribeInput {
  /** The objects in force. */
  objects: readonly ConfigObject[];
  /** Every object's validation state, including rejected ones. */
  status: readonly ObjectStatus[];
  registry: Registry;
  rootNamespace: string;
}

/** A user mistake in the question (unknown or ambiguous service); the message says what to pass. */
export class DescribeError extends Error {}

const POLICY_KINDS = ["AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "Telemetry"];

/** Does a host written in an object of namespace `ns` name this service? */
export function hostNamesService(host: string, ns: string, s: Service): boolean {
  if (host === s.hostname) return true;
  if (host.startsWith("*")) return s.hostname.endsWith(host.slice(1));
  if (!s.aliases.includes(host)) return false;
  return host.includes(".") || ns === s.namespace;
}

export function pickService(services: Iterable<Service>, wanted: string, ns: string): Service {
  const all = [...services];
  const found = all.filter((s) => s.hostname === wanted || (s.aliases.includes(wanted) && (wanted.includes(".") || s.namespace === ns)));
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new DescribeError(`service "${wanted}" is ambiguous: ${found.map((s) => s.hostname).join(", ")}; pass its full host name`);
  const known = all.map((s) => (s.namespace === ns ? s.aliases[0] ?? s.hostname : s.hostname)).sort();
  throw new DescribeError(`no service "${wanted}" in namespace ${ns}; known: ${known.join(", ") || "(none)"} (use NAME.NAMESPACE, a full host name, or -n NAMESPACE)`);
}

/** One object's validation state as describe and the dashboard show it. */
export function appliedConfig(st: ObjectStatus): AppliedConfig {
  return { kind: st.kind, name: `${st.name}.${st.namespace}`, state: st.state, where: `${st.file}:${st.line}`, messages: st.errors.map(formatConfigError) };
}

type Spec = Record<string, any>;

/** Subsets a VirtualService sends this service's traffic to, from every route kind. */
function subsetsUsed(spec: Spec | undefined, ns: string, s: Service): string[] {
  const out = new Set<string>();
  for (const kind of ["http", "tcp", "tls"]) {
    for (const rule of spec?.[kind] ?? []) {
      for (const d of rule.route ?? []) {
        const dest = d.destination;
        if (dest?.subset && typeof dest.host === "string" && hostNamesService(dest.host, ns, s)) out.add(dest.subset);
      }
    }
  }
  return [...out].sort();
}

function labelsMatch(want: Record<string, string> | undefined, have: Record<string, string>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}

/** The client side: a DestinationRule's tls.mode (port-level first), else Istio's auto mTLS. */
function clientMtls(drs: { spec?: Spec }[], s: Service, endpointsWithSidecar: number, endpoints: number): string {
  for (const d of drs) {
    const tp = d.spec?.trafficPolicy;
    const portModes = (tp?.portLevelSettings ?? []).filter((p: Spec) => p?.tls?.mode).map((p: Spec) => `port ${p.port?.number}: ${p.tls.mode}`);
    if (tp?.tls?.mode || portModes.length) return [tp?.tls?.mode ? `${tp.tls.mode} (DestinationRule)` : "", ...portModes].filter(Boolean).join("; ");
  }
  if (endpoints === 0) return "auto mTLS (no endpoints yet)";
  if (endpointsWithSidecar === endpoints) return "ISTIO_MUTUAL (auto mTLS: every endpoint has a sidecar)";
  if (endpointsWithSidecar === 0) return `plaintext (auto mTLS: no endpoint of ${s.aliases[0] ?? s.hostname} has a sidecar)`;
  return `mixed (auto mTLS: ${endpointsWithSidecar} of ${endpoints} endpoints have a sidecar and get mTLS)`;
}

export function describeFromData(input: DescribeInput, wanted: string, ns: string): Description {
  const { registry, rootNamespace } = input;
  const s = pickService(registry.services.values(), wanted, ns);
  const shortName = s.aliases[0] ?? s.hostname;
  const inForce = new Map(input.objects.map((o) => [`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o]));
  const withSpec = input.status.map((st) => ({ st, spec: inForce.get(`${st.kind}/${st.namespace}/${st.name}`)?.spec as Spec | undefined }));
  // Objects with a spec in force match by host; a rejected one with none, by name.
  const applies = (x: { st: ObjectStatus; spec?: Spec }, hosts: unknown[]) =>
    x.spec ? hosts.some((h) => typeof h === "string" && hostNamesService(h, x.st.namespace, s)) : x.st.name === shortName && x.st.namespace === s.namespace;
  const vss = withSpec.filter((x) => x.st.kind === "VirtualService" && applies(x, x.spec?.hosts ?? []));
  const drs = withSpec.filter((x) => x.st.kind === "DestinationRule" && applies(x, [x.spec?.host]));

  const destinationRules = drs.map((d) => ({
    ...appliedConfig(d.st),
    subsets: ((d.spec?.subsets ?? []) as { name: string; labels?: Record<string, string> }[]).map((x) => ({ name: x.name, labels: x.labels ?? {} })),
  }));
  const allSubsets = destinationRules.flatMap((d) => d.subsets);
  const endpoints: DescribedEndpoint[] = [];
  const backing = new Map<string, Workload>();
  let withSidecar = 0;
  for (const p of s.ports) {
    for (const e of registry.endpoints.get(`${s.hostname}:${p.number}`) ?? []) {
      const w = registry.workloads.get(e.workloadUid);
      if (w) backing.set(w.uid, w);
      if (e.tlsMode === "istio") withSidecar++;
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
  const virtualServices = vss.map((v) => ({ ...appliedConfig(v.st), subsetsUsed: subsetsUsed(v.spec, v.st.namespace, s) }));

  const workloads = [...backing.values()].sort((a, b) => (a.uid < b.uid ? -1 : 1));
  const policies: Description["policies"] = [];
  for (const x of withSpec) {
    if (!POLICY_KINDS.includes(x.st.kind)) continue;
    const o = inForce.get(`${x.st.kind}/${x.st.namespace}/${x.st.name}`);
    const selected = o ? workloads.filter((w) => appliesToWorkload(o, x.st.kind, w, rootNamespace)).map((w) => `${w.name}.${w.namespace}`) : [];
    // A rejected policy with nothing in force is shown when it sits in the service's namespace.
    if (selected.length > 0 || (!o && x.st.namespace === s.namespace)) policies.push({ ...appliedConfig(x.st), workloads: selected });
  }
  const server = workloads.flatMap((w) => {
    if (!w.hasSidecar) return [];
    return s.ports.map((p) => {
      const port = w.ports[p.name] ?? p.targetPort;
      return { workload: `${w.name}.${w.namespace}`, port, mode: effectiveMtlsMode(input.objects, w, port, rootNamespace) };
    });
  });
  const mtls = { client: clientMtls(drs, s, withSidecar, endpoints.length), server };

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
  if (server.some((x) => x.mode === "STRICT") && endpoints.length > withSidecar) {
    hints.push("STRICT mTLS is on but some endpoints have no sidecar: clients without a sidecar cannot reach the STRICT ones (their connections are refused and counted as downstream_cx_rejected.plaintext_on_mtls_port).");
  }
  if ([...vss, ...drs].some((x) => x.st.state !== "accepted") || policies.some((p) => p.state !== "accepted")) {
    hints.push("Rejected config: the messages above say what to fix (file:line: field: reason); a rejected edit keeps the last good version in force.");
  }
  if (hints.length > 0) hints.push("Response flags and error codes: docs/errors.md");
  return { service: { hostname: s.hostname, aliases: s.aliases, namespace: s.namespace, origin: s.origin, ports: s.ports }, virtualServices, destinationRules, policies, mtls, endpoints, hints };
}
