// The control plane's current inputs: accepted config objects and the proxies connected
// right now. From them it derives the registry and, per proxy, the Envoy resources. Every
// derived value is a pure function of these inputs (DESIGN rule 2); this class only holds
// them and remembers what it derived for the current state version: the registry, and the
// translations per resource type and proxy view, so proxies with equal views share them.
import type { ConfigObject } from "../api/types.ts";
import type { Registry } from "../registry/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { TYPE, type Cluster, type ProxyResources } from "../xds/envoy-types.ts";
import { buildRegistry } from "../registry/build.ts";
import {
  endpointView, endpointViewKey, inboundClusters, inboundClusterView, inboundClusterViewKey, listenerView, listenerViewKey, mergeClusters,
  outboundClusters, outboundClusterView, outboundClusterViewKey, routeView, routeViewKey, sourceLabelKeys, telemetryLabelKeys, translateEndpoints,
  tracingInUse, translateListeners, translateRoutes, type SharedInput,
} from "../translate/index.ts";
import type { MeshConfig } from "../translate/mesh-config.ts";
import { securityLabelKeys } from "../translate/selector-keys.ts";
import { sidecarLabelKeys } from "../translate/sidecar-scope.ts";
import { failoverPriorityKeys } from "../translate/endpoints.ts";
import { tcpSourceLabelKeys } from "../translate/tcp-routes.ts";
import { TranslationMemo } from "./translation-memo.ts";
import type { JwksLookup } from "../translate/jwt.ts";

/**
 * Everything derived from one state version (objects + connected registry-relevant proxies +
 * mesh). Dropped whole whenever an input changes, so nothing in it can be stale.
 */
interface Derived {
  registry: Registry;
  /** Label keys VirtualService sourceLabels name: the only labels that reach RDS. */
  labelKeys: ReadonlySet<string>;
  /** Label keys Sidecar workloadSelectors name (CDS/EDS views keep only these). */
  sidecarKeys: ReadonlySet<string>;
  /** EDS: Sidecar selector keys plus the labels localityLbSetting.failoverPriority names. */
  endpointKeys: ReadonlySet<string>;
  /** Label keys Telemetry selectors name: the only labels that reach LDS (access logging). */
  telemetryLabelKeys: ReadonlySet<string>;
  /** Some Telemetry or the mesh's defaultProviders traces: listener views carry the canonical service. */
  tracing: boolean;
  memo: TranslationMemo;
}

export class MeshState {
  readonly mesh: MeshConfig;
  private objectList: ConfigObject[] = [];
  private readonly connected = new Map<string, ProxyNode>();
  /** Reported application health per connection (only proxies that declare health reporting). */
  private readonly health = new Map<string, { healthy: boolean; message?: string }>();
  private derivedValue: Derived | undefined;

  /** `mesh` is read as constant for the state's lifetime: translations are shared on that basis. */
  constructor(mesh: MeshConfig) {
    this.mesh = mesh;
  }

  #jwks: JwksLookup | undefined;

  /** Where RequestAuthentication keys come from (the control plane's JWKS cache). */
  setJwksLookup(lookup: JwksLookup): void {
    this.#jwks = lookup;
  }

  /** Something translators read outside the objects changed (fetched JWKS): translate afresh. */
  invalidate(): void {
    this.derivedValue = undefined;
  }

  setObjects(objects: ConfigObject[]): void {
    this.objectList = objects;
    this.derivedValue = undefined;
  }

  objects(): readonly ConfigObject[] {
    return this.objectList;
  }

  /** Returns true when the registry changed (an auto-registering workload appeared). */
  proxyConnected(connectionId: string, node: ProxyNode): boolean {
    this.connected.set(connectionId, node);
    // A sidecar that reports health starts unhealthy: its app may not listen yet (Istio keeps
    // such a WorkloadEntry unhealthy until the first probe succeeds).
    if (node.healthReporting) this.health.set(connectionId, { healthy: false, message: "no health report from the sidecar yet" });
    if (!node.autoRegister) return false;
    this.derivedValue = undefined;
    return true;
  }

  proxyDisconnected(connectionId: string): boolean {
    const node = this.connected.get(connectionId);
    this.connected.delete(connectionId);
    this.health.delete(connectionId);
    if (!node?.autoRegister) return false;
    this.derivedValue = undefined;
    return true;
  }

  /**
   * Records a health report of a connected proxy that declared health reporting. Returns true
   * when the registry changed (an auto-registered workload became healthy or unhealthy).
   */
  proxyHealth(connectionId: string, healthy: boolean, message?: string): boolean {
    const node = this.connected.get(connectionId);
    if (!node?.healthReporting) return false;
    const before = this.health.get(connectionId);
    const now: { healthy: boolean; message?: string } = healthy ? { healthy } : { healthy, ...(message ? { message } : {}) };
    this.health.set(connectionId, now);
    if (!node.autoRegister || (before?.healthy === now.healthy && before.message === now.message)) return false;
    this.derivedValue = undefined;
    return true;
  }

  registry(): Registry {
    return this.derived().registry;
  }

  /** Shared translations of the current state version (entries, and calls answered from it). */
  translationStats(): { entries: number; hits: number } {
    return this.derived().memo.stats();
  }

  private derived(): Derived {
    if (!this.derivedValue) {
      const proxies = [...this.connected.values()].filter((n) => n.autoRegister);
      // By proxy id, in connection order: when a reconnect briefly overlaps the old stream,
      // the newest connection's node and health win together.
      const health = new Map<string, { healthy: boolean; message?: string }>();
      for (const [id, node] of this.connected) {
        const h = this.health.get(id);
        if (h) health.set(node.id, h);
        else health.delete(node.id);
      }
      const registry = buildRegistry(this.objectList, proxies, { domainSuffix: this.mesh.domainSuffix, health });
      const objects = this.objectList;
      // Each view keeps only the labels some selector of its inputs names (see the views).
      const sidecarKeys = sidecarLabelKeys(objects);
      this.derivedValue = {
        registry,
        labelKeys: new Set([...sourceLabelKeys(objects), ...sidecarKeys]),
        sidecarKeys,
        endpointKeys: new Set([...failoverPriorityKeys(objects), ...sidecarKeys]),
        telemetryLabelKeys: new Set([...telemetryLabelKeys(objects), ...securityLabelKeys(objects), ...tcpSourceLabelKeys(objects), ...sidecarKeys]),
        tracing: tracingInUse(objects, this.mesh),
        memo: new TranslationMemo(),
      };
    }
    return this.derivedValue;
  }

  /**
   * The proxy's resources, equal to translate() for it. Each type is translated from the
   * proxy's view for that type only, once per state version and view: proxies with equal
   * views get the same frozen objects (never change them; the ADS encode cache relies on it).
   */
  resources(proxy: ProxyNode): ProxyResources {
    const t = this.translations(proxy);
    return { listeners: [...t.listeners], routes: [...t.routes], clusters: mergeClusters(t.outbound, t.inbound), endpoints: [...t.endpoints] };
  }

  /** The memo's shared (frozen) translations for the proxy's views. */
  private translations(proxy: ProxyNode) {
    const { registry, labelKeys, sidecarKeys, endpointKeys, telemetryLabelKeys: listenerLabelKeys, memo } = this.derived();
    const shared: SharedInput = { objects: this.objectList, registry, mesh: this.mesh, ...(this.#jwks ? { jwks: this.#jwks } : {}) };
    const lv = listenerView(proxy, listenerLabelKeys, this.derived().tracing);
    const rv = routeView(proxy, labelKeys);
    const ov = outboundClusterView(proxy, sidecarKeys);
    const iv = inboundClusterView(proxy);
    const ev = endpointView(proxy, endpointKeys);
    return {
      listeners: memo.get("listeners", listenerViewKey(lv), () => translateListeners({ ...shared, proxy: lv })),
      routes: memo.get("routes", routeViewKey(rv), () => translateRoutes({ ...shared, proxy: rv })),
      outbound: memo.get("outbound-clusters", outboundClusterViewKey(ov), () => outboundClusters({ ...shared, proxy: ov })),
      inbound: memo.get("inbound-clusters", inboundClusterViewKey(iv), () => inboundClusters(iv)),
      endpoints: memo.get("endpoints", endpointViewKey(ev), () => translateEndpoints({ ...shared, proxy: ev })),
    };
  }

  /**
   * The ADS server's view: resources by type URL, keyed by name. Proxies with equal views get
   * the same (never changed) maps, so the ADS server can reuse a subset it encoded for one
   * proxy for all of them without looking at each resource again (resource-set.ts).
   */
  resourcesByType(proxy: ProxyNode): Map<string, ReadonlyMap<string, object>> {
    const t = this.translations(proxy);
    return new Map<string, ReadonlyMap<string, object>>([
      [TYPE.listener, byNameShared(t.listeners, (x) => x.name)],
      [TYPE.route, byNameShared(t.routes, (x) => x.name)],
      [TYPE.cluster, mergedClustersShared(t.outbound, t.inbound)],
      [TYPE.endpoint, byNameShared(t.endpoints, (x) => x.cluster_name)],
    ]);
  }
}

// Keyed by the memo's frozen arrays: a new state version makes new arrays, so nothing stale
// is ever returned, and entries go with the arrays.
const namedMaps = new WeakMap<readonly object[], ReadonlyMap<string, object>>();

function byNameShared<T extends object>(list: readonly T[], nameOf: (x: T) => string): ReadonlyMap<string, object> {
  let m = namedMaps.get(list);
  if (!m) {
    m = new Map(list.map((x) => [nameOf(x), x]));
    namedMaps.set(list, m);
  }
  return m;
}

const mergedMaps = new WeakMap<readonly Cluster[], WeakMap<readonly Cluster[], ReadonlyMap<string, object>>>();

function mergedClustersShared(outbound: readonly Cluster[], inbound: readonly Cluster[]): ReadonlyMap<string, object> {
  let byInbound = mergedMaps.get(outbound);
  if (!byInbound) mergedMaps.set(outbound, (byInbound = new WeakMap()));
  let m = byInbound.get(inbound);
  if (!m) {
    m = new Map(mergeClusters(outbound, inbound).map((c) => [c.name, c]));
    byInbound.set(inbound, m);
  }
  return m;
}
