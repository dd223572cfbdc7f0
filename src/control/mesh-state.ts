// The control plane's current inputs: accepted config objects and the proxies connected
// right now. From them it derives the registry and, per proxy, the Envoy resources. Every
// derived value is a pure function of these inputs (DESIGN rule 2); this class only holds
// them and remembers what it derived for the current state version: the registry, and the
// translations per resource type and proxy view, so proxies with equal views share them.
import type { ConfigObject } from "../api/types.ts";
import type { Registry } from "../registry/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { TYPE, type ProxyResources } from "../xds/envoy-types.ts";
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
    const { registry, labelKeys, sidecarKeys, endpointKeys, telemetryLabelKeys: listenerLabelKeys, memo } = this.derived();
    const shared: SharedInput = { objects: this.objectList, registry, mesh: this.mesh, ...(this.#jwks ? { jwks: this.#jwks } : {}) };
    const lv = listenerView(proxy, listenerLabelKeys, this.derived().tracing);
    const rv = routeView(proxy, labelKeys);
    const ov = outboundClusterView(proxy, sidecarKeys);
    const iv = inboundClusterView(proxy);
    const ev = endpointView(proxy, endpointKeys);
    const listeners = memo.get("listeners", listenerViewKey(lv), () => translateListeners({ ...shared, proxy: lv }));
    const routes = memo.get("routes", routeViewKey(rv), () => translateRoutes({ ...shared, proxy: rv }));
    const outbound = memo.get("outbound-clusters", outboundClusterViewKey(ov), () => outboundClusters({ ...shared, proxy: ov }));
    const inbound = memo.get("inbound-clusters", inboundClusterViewKey(iv), () => inboundClusters(iv));
    const endpoints = memo.get("endpoints", endpointViewKey(ev), () => translateEndpoints({ ...shared, proxy: ev }));
    return { listeners: [...listeners], routes: [...routes], clusters: mergeClusters(outbound, inbound), endpoints: [...endpoints] };
  }

  /** The ADS server's view: resources by type URL, keyed by name. */
  resourcesByType(proxy: ProxyNode): Map<string, Map<string, object>> {
    const r = this.resources(proxy);
    return new Map<string, Map<string, object>>([
      [TYPE.listener, new Map(r.listeners.map((x) => [x.name, x]))],
      [TYPE.route, new Map(r.routes.map((x) => [x.name, x]))],
      [TYPE.cluster, new Map(r.clusters.map((x) => [x.name, x]))],
      [TYPE.endpoint, new Map(r.endpoints.map((x) => [x.cluster_name, x]))],
    ]);
  }
}
