// Test fixtures shared by registry and translator tests: ConfigObject literals in the
// shape the YAML loader produces, and proxy nodes. Not used by production code.
import type { ConfigObject, KnownKind } from "../api/types.ts";
import type { ProxyNode, WorkloadPort } from "../xds/node.ts";

let line = 1;

export function cfg(kind: KnownKind, name: string, spec: Record<string, unknown>, extra?: { namespace?: string; annotations?: Record<string, string> }): ConfigObject {
  const apiVersion = kind === "Service" ? "v1" : kind === "WorkloadEntry" || kind === "ServiceEntry" || kind === "VirtualService" || kind === "DestinationRule"
    ? "networking.istio.io/v1" : "security.istio.io/v1";
  return {
    kind,
    apiVersion,
    metadata: { name, namespace: extra?.namespace ?? "default", ...(extra?.annotations ? { annotations: extra.annotations } : {}) },
    spec,
    source: { file: "test.yaml", line: line++ },
  };
}

/** A Kubernetes Service with one port and an `app` selector. */
export function kubeService(name: string, port: number, opts?: { namespace?: string; portName?: string; targetPort?: number | string; selector?: Record<string, string> }): ConfigObject {
  return cfg("Service", name, {
    selector: opts?.selector ?? { app: name },
    ports: [{ name: opts?.portName ?? "http", port, ...(opts?.targetPort !== undefined ? { targetPort: opts.targetPort } : {}) }],
  }, { namespace: opts?.namespace });
}

export function workloadEntry(name: string, address: string, labels: Record<string, string>, opts?: { namespace?: string; ports?: Record<string, number>; locality?: string; weight?: number }): ConfigObject {
  return cfg("WorkloadEntry", name, {
    address,
    labels,
    serviceAccount: `bookinfo-${labels.app ?? name}`,
    ...(opts?.ports ? { ports: opts.ports } : {}),
    ...(opts?.locality ? { locality: opts.locality } : {}),
    ...(opts?.weight !== undefined ? { weight: opts.weight } : {}),
  }, { namespace: opts?.namespace });
}

export function proxy(name: string, ip: string, labels: Record<string, string>, opts?: { namespace?: string; ports?: WorkloadPort[]; type?: ProxyNode["type"]; autoRegister?: boolean }): ProxyNode {
  const namespace = opts?.namespace ?? "default";
  const type = opts?.type ?? "sidecar";
  return {
    id: `${type}~${ip}~${name}.${namespace}~${namespace}.svc.cluster.local`,
    type,
    ip,
    name,
    namespace,
    labels,
    serviceAccount: labels.app ?? "default",
    ports: opts?.ports ?? [],
    appAddress: type === "grpc" ? "" : ip.replace(/^127\.(\d+)\.1\./, "127.$1.2."),
    interceptionMode: "NONE",
    autoRegister: opts?.autoRegister ?? true,
  };
}

/** Bookinfo: 4 Services on 9080; reviews has v1, v2, v3. */
export function bookinfoObjects(): ConfigObject[] {
  return [
    kubeService("productpage", 9080),
    kubeService("details", 9080),
    kubeService("ratings", 9080),
    kubeService("reviews", 9080),
  ];
}

export function bookinfoProxies(): ProxyNode[] {
  const ports = [{ name: "http", containerPort: 9080 }];
  return [
    proxy("productpage-v1", "127.10.1.1", { app: "productpage", version: "v1" }, { ports }),
    proxy("details-v1", "127.10.1.2", { app: "details", version: "v1" }, { ports }),
    proxy("ratings-v1", "127.10.1.3", { app: "ratings", version: "v1" }, { ports }),
    proxy("reviews-v1", "127.10.1.4", { app: "reviews", version: "v1" }, { ports }),
    proxy("reviews-v2", "127.10.1.5", { app: "reviews", version: "v2" }, { ports }),
    proxy("reviews-v3", "127.10.1.6", { app: "reviews", version: "v3" }, { ports }),
  ];
}
