// Bookinfo as a user writes it: the four Services and the reviews DestinationRule. The
// workloads come from bookinfoProxies() in src/registry/fixtures.ts (one sidecar each).

const service = (name: string) => `
apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: ${name}
  ports:
  - name: http
    port: 9080
`;

export const BOOKINFO_SERVICES = ["productpage", "details", "ratings", "reviews"].map(service).join("---");

export const REVIEWS_DESTINATION_RULE = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
  - name: v3
    labels:
      version: v3
`;

/** Bookinfo Services + the reviews DestinationRule + the given documents, as one YAML text. */
export function bookinfo(...documents: string[]): string {
  return [BOOKINFO_SERVICES, REVIEWS_DESTINATION_RULE, ...documents].map((d) => (d.endsWith("\n") ? d : `${d}\n`)).join("---\n");
}

export const REVIEWS = "reviews.default.svc.cluster.local";
/** Pod IP:port of each reviews version, as bookinfoProxies() places them. */
export const REVIEWS_POD = { v1: "127.10.1.4:9080", v2: "127.10.1.5:9080", v3: "127.10.1.6:9080" } as const;
