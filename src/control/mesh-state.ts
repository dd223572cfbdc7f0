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
    if (!node.autoRegister) return false;
    this.registryValue = undefined;
    return true;
  }

  proxyDisconnected(connectionId: string): boolean {
    const node = this.connected.get(connectionId);
    this.connected.delete(connectionId);
    if (!node?.autoRegister) return false;
    this.registryValue = undefined;
    return true;
  }

  registry(): Registry {
    this.registryValue ??= buildRegistry(this.objectList, [...this.connected.values()].filter((n) => n.autoRegister), {
      domainSuffix: this.mesh.domainSuffix,
    });
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
