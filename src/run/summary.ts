import { dirname, join } from "node:path";
// What `mizzen up` prints once everything is ready: where things are and what to try.
import { ADMIN_PORT, OUTBOUND_PORT } from "./addresses.ts";

export interface SummaryPod {
  podName: string;
  namespace: string;
  labels: Record<string, string>;
  podIp: string;
  appAddress: string;
  ports: { name: string; port: number }[];
}

/** A service as the control plane's registry lists it (/debug/registryz). */
export interface SummaryService {
  hostname: string;
  aliases: string[];
  ports: { number: number }[];
}

export interface SummaryInput {
  dir: string;
  xdsAddress: string;
  debugAddress: string;
  pods: SummaryPod[];
  services: SummaryService[];
}

/** The shortest name a client can use for a service, with its first port (omitted when 80). */
function serviceUrl(svc: SummaryService): string {
  const name = [svc.hostname, ...svc.aliases].sort((a, b) => a.length - b.length)[0]!;
  const port = svc.ports[0]?.number ?? 80;
  return `http://${name}${port === 80 ? "" : `:${port}`}/`;
}

/** A real service URL to show in the "try" lines, requested through the first pod's sidecar. */
function example(s: SummaryInput): { via: string; url: string } | undefined {
  const pod = s.pods[0];
  const svc = s.services.find((x) => x.ports.length > 0);
  if (!pod || !svc) return undefined;
  const url = serviceUrl(svc);
  return { via: pod.podIp, url: url.startsWith("http://productpage") ? `${url}productpage` : url };
}

export function formatSummary(s: SummaryInput): string {
  const debug = `http://${s.debugAddress}`;
  const nameWidth = Math.max(8, ...s.pods.map((p) => p.podName.length));
  const lines = [
    "",
    `Mizzen mesh is up: ${s.pods.length} pod${s.pods.length === 1 ? "" : "s"} from ${s.dir}`,
    "",
    `  control plane  xDS ${s.xdsAddress}   debug ${debug}/debug/configz  /debug/registryz  /debug/syncz  /debug/config_dump?proxyID=...`,
    "",
    `  ${"pod".padEnd(nameWidth)}  ${"pod IP (sidecar)".padEnd(16)}  ${"app".padEnd(16)}  sidecar admin`,
  ];
  for (const p of s.pods) {
    const ports = p.ports.map((x) => x.port).join(",");
    lines.push(`  ${p.podName.padEnd(nameWidth)}  ${p.podIp.padEnd(16)}  ${`${p.appAddress}${ports ? `:${ports}` : ""}`.padEnd(16)}  http://${p.podIp}:${ADMIN_PORT}/config_dump`);
  }
  if (s.services.length > 0) {
    lines.push("", `  services: ${s.services.map(serviceUrl).join("  ")}`);
  }
  const ex = example(s);
  lines.push("", "Try:");
  if (ex) {
    lines.push(`  curl -x http://${ex.via}:${OUTBOUND_PORT} ${ex.url}     # a request through ${s.pods[0]!.podName}'s sidecar`);
  }
  lines.push(
    `  edit the Istio YAML in ${s.dir}: every sidecar gets the change in about a second`,
    `  curl ${debug}/debug/configz     # what the control plane accepted or rejected, and why`,
    "  Ctrl-C stops everything.",
    "",
    "",
  );
  return lines.join("\n");
}

/** The Bookinfo tour printed by `mizzen demo` after the summary. */
export function formatTour(dir: string, productpageIp: string): string {
  const proxy = `-x http://${productpageIp}:${OUTBOUND_PORT}`;
  // Alternative rules live beside the demo folder, not in it: the control plane loads every
  // YAML file under the folder it watches.
  const routes = join(dirname(dir), "reviews-routes");
  return [
    "A short tour of Bookinfo:",
    `  1. curl ${proxy} http://productpage:9080/productpage`,
    "     reviews come from v1 (no stars): virtual-service-reviews.yaml sends everything there.",
    `     In a browser: http://${productpageIp}:9080/productpage (productpage's sidecar, inbound port).`,
    `  2. cp ${routes}/reviews-v2-v3-50-50.yaml ${dir}/virtual-service-reviews.yaml`,
    "     then call the page a few times: black stars (v2) and red stars (v3), half each.",
    `  3. cp ${routes}/reviews-jason-v2.yaml ${dir}/virtual-service-reviews.yaml`,
    `     curl ${proxy} 'http://productpage:9080/productpage?u=jason'   # jason sees v2, everyone else v1`,
    `  4. cp ${routes}/reviews-v3.yaml ${dir}/virtual-service-reviews.yaml      # red stars for all`,
    `  5. cp ${routes}/reviews-v1.yaml ${dir}/virtual-service-reviews.yaml      # back to the start`,
    "  6. npx mizzen proxy-config secrets reviews-v1   # its SPIFFE certificate: sidecars talk mutual TLS",
    "     (docs/security.md: STRICT mode, AuthorizationPolicy, RequestAuthentication)",
    "",
  ].join("\n");
}
