// The mesh the control-plane scale benchmark serves: N Services (svc-0 ... svc-(N-1), one
// HTTP port each) with one WorkloadEntry behind each, a DestinationRule with subsets v1..v3
// for svc-0, and a VirtualService for svc-0 whose subset the benchmark rewrites to make a
// config change that reaches every proxy's RouteConfiguration.

export const SCALE_PORT = 8080;
export const SUBSETS = ["v1", "v2", "v3"] as const;
export type Subset = (typeof SUBSETS)[number];

/** svc-i's workload address: a loopback address nobody listens on (EDS content only). */
export function workloadAddress(i: number): string {
  return `127.144.${1 + (i >> 8)}.${1 + (i & 255)}`;
}

export function servicesYaml(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 60_000) throw new Error(`services must be an integer between 1 and 60000, not ${n}`);
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    // svc-0's workload carries every subset label in turn is not needed: v1 is enough for
    // the route to be valid, and the benchmark only watches the route, not its endpoints.
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: svc-${i}, namespace: default }
spec:
  selector: { app: svc-${i} }
  ports: [{ name: http, port: ${SCALE_PORT} }]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: svc-${i}-1, namespace: default }
spec:
  address: ${workloadAddress(i)}
  labels: { app: svc-${i}, version: v1 }
  serviceAccount: svc-${i}
`);
  }
  return docs.join("---\n");
}

export function subsetsYaml(): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc-0, namespace: default }
spec:
  host: svc-0.default.svc.cluster.local
  subsets:
${SUBSETS.map((s) => `  - name: ${s}\n    labels: { version: ${s} }`).join("\n")}
`;
}

export function routeYaml(subset: Subset): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc-0, namespace: default }
spec:
  hosts: [svc-0.default.svc.cluster.local]
  http:
  - route:
    - destination: { host: svc-0.default.svc.cluster.local, subset: ${subset} }
`;
}

/** The cluster name a RouteConfiguration holds once svc-0 routes to this subset. */
export function routeMarker(subset: Subset): string {
  return `outbound|${SCALE_PORT}|${subset}|svc-0.default.svc.cluster.local`;
}
