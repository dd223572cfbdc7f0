// Istio's Sidecar kind, egress side: which services (and so which virtual hosts, clusters and
// endpoints) a proxy is sent, and what it does with a host it does not know.
//
// Which Sidecar applies to a proxy: in its own namespace, the oldest one whose workloadSelector
// matches the proxy's labels, else the one without a selector; failing both, the root
// namespace's Sidecar without a selector (the mesh default); failing that, Istio's implicit
// default that imports every service the namespace can see ("*/*").
//
// An egress host is "namespace/dnsName": "." is the proxy's namespace, "*" any namespace, "~"
// none; dnsName is an FQDN, "*" or "*.suffix". A service is imported when a host for its own
// namespace, or for "*", matches its hostname. An egress listener with a port imports only that
// port of the services it matches (unless its protocol is HTTP_PROXY). VirtualServices whose
// hosts an egress host imports come along, and so do the services they route to, so their
// routes never point at a cluster the proxy lacks.
import type { ConfigObject } from "../api/types.ts";
import type { Registry, Service } from "../registry/types.ts";
import { labelsMatch, num, obj, objs, str, strMap, strs } from "../registry/read-spec.ts";
import { hostMatches, resolveHost, visibleServices } from "./hosts.ts";
import type { SharedInput, ViewInput } from "./input.ts";
import { meshOutboundTrafficMode, type MeshConfig, type OutboundTrafficMode } from "./mesh-config.ts";
import { meshVirtualServices, virtualServiceHosts } from "./virtual-services.ts";

/** What scoping reads of a proxy: its namespace and its labels (only those Sidecar selectors name). */
export interface SidecarScopeProxy {
  namespace: string;
  /** Absent: only Sidecars without a workloadSelector can apply. */
  labels?: Readonly<Record<string, string>>;
}

/** One "namespace/dnsName" import, the namespace already resolved ("." -> the proxy's). */
export interface EgressHost {
  /** A namespace name, "*" (any) or "~" (none). */
  namespace: string;
  /** FQDN, "*" or "*.suffix". */
  host: string;
}

export interface EgressListener {
  /** Only this service port is imported; undefined: every port. */
  port: number | undefined;
  hosts: EgressHost[];
}

export interface SidecarScope {
  /** The Sidecar in force; undefined: Istio's implicit default. */
  sidecar: ConfigObject | undefined;
  egress: EgressListener[];
  outboundTrafficPolicy: OutboundTrafficMode;
}

const IMPORT_ALL: EgressListener = { port: undefined, hosts: [{ namespace: "*", host: "*" }] };

/** "ns/host", "./host", "*\/host", "~/host" -> EgressHost; undefined when there is no "/". */
export function parseEgressHost(raw: string, proxyNamespace: string): EgressHost | undefined {
  const slash = raw.indexOf("/");
  if (slash <= 0 || slash === raw.length - 1) return undefined;
  const ns = raw.slice(0, slash);
  return { namespace: ns === "." ? proxyNamespace : ns, host: raw.slice(slash + 1).toLowerCase() };
}

/** Milliseconds since the epoch; no timestamp counts as the oldest (Go's zero time). */
function createdAt(o: ConfigObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? "");
  return Number.isNaN(t) ? -Infinity : t;
}

function oldestFirst(a: ConfigObject, b: ConfigObject): number {
  const ta = createdAt(a), tb = createdAt(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function selectorOf(sc: ConfigObject): Record<string, string> | undefined {
  const labels = strMap(obj(sc.spec.workloadSelector)?.labels);
  return Object.keys(labels).length > 0 ? labels : undefined;
}

/** The Sidecar that applies to the proxy, or undefined for Istio's implicit default. */
export function selectSidecar(objects: readonly ConfigObject[], rootNamespace: string, proxy: SidecarScopeProxy): ConfigObject | undefined {
  const sidecars = objects.filter((o) => o.kind === "Sidecar").sort(oldestFirst);
  const own = sidecars.filter((o) => o.metadata.namespace === proxy.namespace);
  const labels = proxy.labels;
  const selected = labels ? own.find((o) => { const sel = selectorOf(o); return sel !== undefined && labelsMatch(sel, labels); }) : undefined;
  return selected
    ?? own.find((o) => selectorOf(o) === undefined)
    ?? sidecars.find((o) => o.metadata.namespace === rootNamespace && selectorOf(o) === undefined);
}

function egressListeners(sc: ConfigObject, proxyNamespace: string): EgressListener[] {
  const out: EgressListener[] = [];
  for (const l of objs(sc.spec.egress)) {
    const port = obj(l.port);
    const httpProxy = str(port?.protocol)?.toUpperCase() === "HTTP_PROXY";
    const hosts = strs(l.hosts).map((h) => parseEgressHost(h, proxyNamespace)).filter((h): h is EgressHost => h !== undefined);
    out.push({ port: httpProxy ? undefined : num(port?.number), hosts });
  }
  return out.length > 0 ? out : [IMPORT_ALL];
}

function modeOf(sc: ConfigObject | undefined): OutboundTrafficMode | undefined {
  const m = str(obj(sc?.spec.outboundTrafficPolicy)?.mode)?.toUpperCase();
  return m === "ALLOW_ANY" || m === "REGISTRY_ONLY" ? m : undefined;
}

export function sidecarScope(objects: readonly ConfigObject[], mesh: MeshConfig, proxy: SidecarScopeProxy): SidecarScope {
  const sidecar = selectSidecar(objects, mesh.rootNamespace, proxy);
  return {
    sidecar,
    egress: sidecar ? egressListeners(sidecar, proxy.namespace) : [IMPORT_ALL],
    outboundTrafficPolicy: modeOf(sidecar) ?? meshOutboundTrafficMode(mesh),
  };
}

/** The label keys Sidecar workloadSelectors name: the only labels scoping reads. */
export function sidecarLabelKeys(objects: readonly ConfigObject[]): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) if (o.kind === "Sidecar") for (const k of Object.keys(strMap(obj(o.spec.workloadSelector)?.labels))) keys.add(k);
  return keys;
}

/** `labels` narrowed to `keys`, in key order: what a proxy view keeps for scoping. */
export function narrowLabels(labels: Readonly<Record<string, string>>, keys: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...keys].sort()) if (Object.hasOwn(labels, k)) out[k] = labels[k]!;
  return out;
}

/** Does the listener import `hostname` declared in `namespace`? (Istio: SubsetOf the import.) */
export function importsService(l: EgressListener, namespace: string, hostname: string): boolean {
  for (const h of l.hosts) if ((h.namespace === namespace || h.namespace === "*") && hostMatches(h.host, hostname)) return true;
  return false;
}

/** Does the listener import a VirtualService of `namespace` with this host? (either side may be the wildcard) */
function importsVirtualServiceHost(l: EgressListener, namespace: string, host: string): boolean {
  for (const h of l.hosts) if ((h.namespace === namespace || h.namespace === "*") && (hostMatches(h.host, host) || hostMatches(host, h.host))) return true;
  return false;
}

/** True when the scope imports everything visible (no Sidecar narrows it). */
export function importsAll(scope: SidecarScope): boolean {
  return scope.egress.length === 1 && scope.egress[0] === IMPORT_ALL;
}

/** Service ports the listener takes: all, or the one its port names (none when the service lacks it). */
function portsFor(l: EgressListener, s: Service): Service["ports"] {
  return l.port === undefined ? s.ports : s.ports.filter((p) => p.number === l.port);
}

function importsVirtualService(l: EgressListener, vs: ConfigObject, mesh: MeshConfig): boolean {
  return virtualServiceHosts(vs, mesh).some((h) => importsVirtualServiceHost(l, vs.metadata.namespace, h));
}

/** Mesh VirtualServices the scope imports (all visible ones for the implicit default). */
export function scopedVirtualServices(objects: readonly ConfigObject[], mesh: MeshConfig, namespace: string, scope: SidecarScope): ConfigObject[] {
  const all = meshVirtualServices(objects, namespace);
  if (importsAll(scope)) return all;
  return all.filter((vs) => scope.egress.some((l) => importsVirtualService(l, vs, mesh)));
}

/** Hosts the VirtualService routes to (http, tcp and tls destinations and mirrors), fully qualified. */
function destinationHosts(vs: ConfigObject, mesh: MeshConfig): string[] {
  const out: string[] = [];
  const add = (d: unknown) => {
    const h = str(obj(d)?.host);
    if (h) out.push(resolveHost(h, vs.metadata.namespace, mesh.domainSuffix));
  };
  for (const section of ["http", "tcp", "tls"]) {
    for (const r of objs(vs.spec[section])) {
      for (const rd of objs(r.route)) add(rd.destination);
      add(r.mirror);
      for (const m of objs(r.mirrors)) add(m.destination);
    }
  }
  return out;
}

/**
 * The services a proxy is sent, sorted by hostname: the namespace's visible services (exportTo)
 * that its Sidecar imports, each with only the ports an egress listener takes, plus the
 * destinations of the VirtualServices it imports.
 */
export function servicesInScope(registry: Registry, objects: readonly ConfigObject[], mesh: MeshConfig, namespace: string, scope: SidecarScope): Service[] {
  const visible = visibleServices(registry, namespace);
  if (importsAll(scope)) return visible;
  const ports = new Map<string, Set<number>>();
  const take = (s: Service, list: Service["ports"]) => {
    let set = ports.get(s.hostname);
    if (!set) ports.set(s.hostname, (set = new Set()));
    for (const p of list) set.add(p.number);
  };
  const byHost = new Map(visible.map((s) => [s.hostname, s]));
  for (const l of scope.egress) {
    for (const s of visible) if (importsService(l, s.namespace, s.hostname)) take(s, portsFor(l, s));
  }
  // As Istio: a VirtualService's destinations come with the ports of the listener that imported it.
  const vses = meshVirtualServices(objects, namespace);
  for (const l of scope.egress) {
    for (const vs of vses) {
      if (!importsVirtualService(l, vs, mesh)) continue;
      for (const h of destinationHosts(vs, mesh)) {
        const s = byHost.get(h);
        if (s) take(s, portsFor(l, s));
      }
    }
  }
  const out: Service[] = [];
  for (const s of visible) {
    const keep = ports.get(s.hostname);
    if (!keep || keep.size === 0) continue;
    out.push(keep.size === s.ports.length ? s : { ...s, ports: s.ports.filter((p) => keep.has(p.number)) });
  }
  return out;
}

/** Scope and services of the proxy a translator is working for. */
export function proxyScope(input: SharedInput & { proxy: SidecarScopeProxy }): { scope: SidecarScope; services: Service[] } {
  const scope = sidecarScope(input.objects, input.mesh, input.proxy);
  return { scope, services: servicesInScope(input.registry, input.objects, input.mesh, input.proxy.namespace, scope) };
}

/** The services in the proxy's scope (what CDS, EDS and RDS iterate over). */
export function scopedServices(input: ViewInput<SidecarScopeProxy>): Service[] {
  return proxyScope(input).services;
}

