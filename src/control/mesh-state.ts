// The control plane's current inputs: accepted config objects and the proxies connected
// right now. From them it derives the registry and, per proxy, the Envoy resources. Every
// derived value is a pure function of these inputs (DESIGN rule 2); this class only holds
// them and remembers the last derived registry so it is not rebuilt per proxy.
import type { ConfigObject } from "../api/types.ts";
import type { Registry } from "../registry/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import { TYPE, type ProxyResources } from "../xds/envoy-types.ts";
import { buildRegistry } from "../registry/build.ts";
import { translate } from "../translate/index.ts";
import type { MeshConfig } from "../translate/mesh-config.ts";

export class MeshState {
  readonly mesh: MeshConfig;
  private objectList: ConfigObject[] = [];
  private readonly connected = new Map<string, ProxyNode>();
  /** Reported application health per connection (only proxies that declare health reporting). */
  private readonly health = new Map<string, { healthy: boolean; message?: string }>();
  private registryValue: Registry | undefined;

  constructor(mesh: MeshConfig) {
    this.mesh = mesh;
  }

  setObjects(objects: ConfigObject[]): void {
    this.objectList = objects;
    this.registryValue = undefined;
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
    this.registryValue = undefined;
    return true;
  }

  proxyDisconnected(connectionId: string): boolean {
    const node = this.connected.get(connectionId);
    this.connected.delete(connectionId);
    this.health.delete(connectionId);
    if (!node?.autoRegister) return false;
    this.registryValue = undefined;
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
    this.registryValue = undefined;
    return true;
  }

  registry(): Registry {
    if (!this.registryValue) {
      const proxies = [...this.connected.values()].filter((n) => n.autoRegister);
      // By proxy id, in connection order: when a reconnect briefly overlaps the old stream,
      // the newest connection's node and health win together.
      const health = new Map<string, { healthy: boolean; message?: string }>();
      for (const [id, node] of this.connected) {
        const h = this.health.get(id);
        if (h) health.set(node.id, h);
        else health.delete(node.id);
      }
      this.registryValue = buildRegistry(this.objectList, proxies, { domainSuffix: this.mesh.domainSuffix, health });
    }
    return this.registryValue;
  }

  resources(proxy: ProxyNode): ProxyResources {
    return translate({ objects: this.objectList, registry: this.registry(), proxy, mesh: this.mesh });
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
