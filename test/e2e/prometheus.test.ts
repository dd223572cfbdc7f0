// A real Prometheus server (Debian's `prometheus` package) scrapes the Bookinfo mesh: every
// sidecar on podIP:15090/stats/prometheus and the control plane on /metrics. Then the usual
// Istio dashboard queries run against Prometheus's HTTP API: request rate by destination
// service, error ratio, p99 latency from the duration histogram, and connected proxies.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { viaProxy, waitFor } from "../support/http.ts";
import { byLabel, startPrometheus, type PrometheusServer, type Sample } from "../support/prometheus-server.ts";

const SUBNET = 108;
const SIDECARS = 6;
const EXAMPLE = fileURLToPath(new URL("../../examples/bookinfo", import.meta.url));

// Requests with `x-fail: yes` to ratings are aborted with 503 by productpage's sidecar; the
// `nowhere` service has no workload, so every request to it is answered 503 (no endpoints).
const FAULTS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings]
  http:
  - match: [ { headers: { x-fail: { exact: "yes" } } } ]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [ { destination: { host: ratings } } ]
  - route: [ { destination: { host: ratings } } ]
---
apiVersion: v1
kind: Service
metadata: { name: nowhere, namespace: default }
spec:
  selector: { app: nowhere }
  ports: [ { name: http, port: 9080 } ]
`;

const dir = mkdtempSync(join(tmpdir(), "mizzen-prometheus-"));
let mesh: TestMesh | undefined;
let prometheus: PrometheusServer | undefined;

after(async () => {
  await prometheus?.stop();
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("Prometheus scrapes sidecars and control plane; Istio's dashboard queries answer", { timeout: 55_000 }, async () => {
  cpSync(EXAMPLE, dir, { recursive: true });
  writeFileSync(join(dir, "faults.yaml"), FAULTS);
  mesh = await startMesh(dir, SUBNET, SIDECARS);
  const m = mesh;
  const debugPort = Number(new URL(m.debugUrl).port);
  prometheus = await startPrometheus({ sidecars: Array.from({ length: SIDECARS }, (_, i) => `${m.podIp(i + 1)}:15090`), control: `127.0.0.1:${debugPort}` });
  const prom = prometheus;
  const query = (q: string) => prom.query(q);
  // Every target scraped, so the traffic below lands in at least two scrapes (rate() needs two).
  await prom.waitAllUp(SIDECARS + 1);

  // Traffic through productpage's sidecar: pages (productpage -> details, reviews), ratings
  // directly, some ratings aborted by the fault, and the endpoint-less service.
  const proxy = mesh.podIp(1);
  await waitFor("productpage showing reviews", async () => (await viaProxy(proxy, 15001, "http://productpage:9080/productpage")).body.includes("Reviews served by"), 20_000);
  const codes = new Map<string, number>();
  const send = async (url: string, headers?: Record<string, string>) => {
    const r = await viaProxy(proxy, 15001, url, headers ? { headers } : {});
    const key = `${new URL(url).hostname} ${r.status}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  };
  const trafficUntil = Date.now() + 4_000;
  while (Date.now() < trafficUntil) {
    await Promise.all([
      send("http://productpage:9080/productpage"),
      send("http://ratings:9080/ratings/0"),
      send("http://ratings:9080/ratings/0", { "x-fail": "yes" }),
      send("http://nowhere:9080/"),
    ]);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok((codes.get("productpage 200") ?? 0) > 5, `productpage answered: ${JSON.stringify([...codes])}`);
  assert.ok((codes.get("ratings 503") ?? 0) > 5, `the fault aborted ratings requests: ${JSON.stringify([...codes])}`);
  assert.ok((codes.get("nowhere 503") ?? 0) > 5, `nowhere has no endpoints: ${JSON.stringify([...codes])}`);

  const rateQuery = 'sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_service)';
  let lastRates: Sample[] = [];
  const rates = await waitFor("request rates for all four services", async () => {
    lastRates = await query(rateQuery);
    const r = byLabel(lastRates, "destination_service");
    return ["productpage", "reviews", "details", "ratings"].every((s) => (r.get(s) ?? 0) > 0) ? r : undefined;
  }, 15_000, 250).catch(async (err) => {
    const series = await query("count(istio_requests_total) by (reporter, destination_service)").catch((e) => String(e));
    throw new Error(`${(err as Error).message}\nlast: ${JSON.stringify(lastRates)}\nseries: ${JSON.stringify(series)}`);
  });
  for (const s of ["productpage", "reviews", "details", "ratings"]) assert.ok(rates.get(s)! > 0, `${s} has a request rate`);

  // Error ratio as dashboards compute it, on the side that saw the errors (the source sidecar
  // aborts the faulted requests and answers the endpoint-less service itself).
  const errors = 'sum(rate(istio_requests_total{reporter="source",response_code=~"5.."}[1m])) by (destination_service)';
  const total = 'sum(rate(istio_requests_total{reporter="source"}[1m])) by (destination_service)';
  const ratio = byLabel(await query(`${errors} / ${total}`), "destination_service");
  assert.ok((ratio.get("ratings") ?? 0) > 0 && ratio.get("ratings")! < 1, `ratings mixes 5xx and successes: ${ratio.get("ratings")}`);
  assert.equal(ratio.get("nowhere"), 1, "every request to the service without endpoints failed");
  // A series with no 5xx has no error series at all, so its error ratio is absent; the
  // success ratio (non-5xx / all) says the same thing from the other side.
  assert.equal(ratio.get("productpage"), undefined, "no 5xx series for productpage");
  const success = byLabel(await query(`sum(rate(istio_requests_total{reporter="source",response_code!~"5.."}[1m])) by (destination_service) / ${total}`), "destination_service");
  assert.equal(success.get("productpage"), 1, "every productpage request succeeded");
  assert.ok((success.get("ratings") ?? 0) > 0, "ratings also has non-5xx traffic");
  assert.equal(success.get("nowhere"), undefined, "no non-5xx series for nowhere");

  const p99 = byLabel(await query('histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[1m])) by (le, destination_service))'), "destination_service");
  const reviewsP99 = p99.get("reviews");
  assert.ok(reviewsP99 !== undefined && Number.isFinite(reviewsP99) && reviewsP99 > 0, `p99 latency of reviews is a number: ${reviewsP99}`);

  // The control plane: one connected proxy per sidecar, and pushes of all four types.
  const xds = await query("sum(pilot_xds)");
  assert.equal(Number(xds[0]?.value[1]), SIDECARS, "pilot_xds counts every sidecar");
  const pushes = byLabel(await query("sum(pilot_xds_pushes) by (type)"), "type");
  for (const t of ["lds", "rds", "cds", "eds"]) assert.ok((pushes.get(t) ?? 0) >= SIDECARS, `pilot_xds_pushes{type="${t}"} ${pushes.get(t)}`);
  const objects = byLabel(await query("mizzen_config_objects"), "state");
  assert.ok((objects.get("accepted") ?? 0) >= 6, `accepted config objects: ${objects.get("accepted")}`);
  assert.equal(objects.get("rejected"), 0);
  console.log(`# prometheus: rates ${JSON.stringify(Object.fromEntries(rates))}; reviews p99 ${reviewsP99} ms; ratings error ratio ${ratio.get("ratings")?.toFixed(2)}`);
});
