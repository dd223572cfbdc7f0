// STRICT_DNS clusters in the proxy: names become their addresses in the snapshot, a changed
// answer makes a new snapshot, a failed lookup keeps the last good one, and requests follow.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { TYPE, type Cluster } from "../../xds/envoy-types.ts";
import { ProxyState } from "../state/proxy-state.ts";
import { StrictDnsClusters, resolvedEndpoints, resolvesByName } from "./strict-dns.ts";
import type { DnsAnswer, Scheduler } from "./dns-resolver.ts";
import type { EndpointAddress } from "../state/types.ts";
import { createDataPlane } from "../main.ts";
import { feed, hcmListener, routeConfig, toCluster, vhost, viaProxy } from "../test-kit.ts";
import { captureLog } from "../../../test/support/log-capture.ts";

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function dnsCluster(name: string, hosts: string[], port: number, extra: Partial<Cluster> = {}): Cluster {
  return {
    name,
    type: "STRICT_DNS",
    connect_timeout: { seconds: 1 },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: hosts.map((h) => ({ endpoint: { address: { socket_address: { address: h, port_value: port } } }, load_balancing_weight: { value: 3 } })) }] },
    ...extra,
  };
}

/** DNS whose answers the test sets per name; a name without one fails with ENOTFOUND. */
function fakeDns() {
  const answers = new Map<string, DnsAnswer | Error>();
  const asked: string[] = [];
  return {
    answers,
    asked,
    lookup: async (h: string): Promise<DnsAnswer> => {
      asked.push(h);
      const a = answers.get(h);
      if (!a) throw Object.assign(new Error(`${h} not found`), { code: "ENOTFOUND" });
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

function manualClock() {
  const pending = new Set<() => void>();
  const schedule: Scheduler = (fn, _ms) => {
    pending.add(fn);
    return () => pending.delete(fn);
  };
  return {
    schedule,
    count: () => pending.size,
    /** Every pending lookup runs now; waits for them to settle. */
    async tickAll(): Promise<void> {
      const fns = [...pending];
      pending.clear();
      for (const fn of fns) fn();
      await new Promise((r) => setImmediate(r));
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

/** A proxy state with STRICT_DNS refreshing wired as createDataPlane wires it. */
function wire(dns: ReturnType<typeof fakeDns>, clock: ReturnType<typeof manualClock>, logger = captureLog("dns").logger) {
  let dnsClusters: StrictDnsClusters | undefined;
  const s = new ProxyState({ onSnapshot: () => dnsClusters?.sync(s.strictDnsClusters()) });
  dnsClusters = new StrictDnsClusters({ lookup: dns.lookup, schedule: clock.schedule, logger, apply: (c, eps) => s.setDnsEndpoints(c, eps) });
  cleanups.push(() => dnsClusters!.close());
  return { s, dnsClusters };
}

const endpointsOf = (s: ProxyState, name: string) => s.current.clusters.get(name)?.endpoints.map((e) => e.key);

test("names become their addresses; a changed answer is a new snapshot; a failure keeps the last good ones", async () => {
  const dns = fakeDns();
  const clock = manualClock();
  const log = captureLog("dns");
  const { s } = wire(dns, clock, log.logger);
  const name = "outbound|80||api.partner.test";
  dns.answers.set("api.partner.test", { addresses: ["10.9.0.2", "10.9.0.1"], ttlSeconds: 30 });
  assert.equal(s.handleResponse(TYPE.cluster, [{ name, resource: dnsCluster(name, ["api.partner.test", "10.9.9.9"], 80, { respect_dns_ttl: true }) }], "1"), null);
  const before = s.current.generation;
  await settle();
  assert.deepEqual(endpointsOf(s, name), ["10.9.0.1:80", "10.9.0.2:80", "10.9.9.9:80"], "each address is an endpoint; IP endpoints stay");
  assert.equal(s.current.generation, before + 1);
  const ep = s.current.clusters.get(name)!.endpoints[0];
  assert.equal(ep.weight, 3, "the endpoint's weight carries over to each address");
  assert.equal(s.current.raw.clusters.get(name)?.resource.load_assignment?.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address, "api.partner.test", "the config as received is unchanged");
  assert.equal(log.withMessage("DNS resolved").length, 1);

  dns.answers.set("api.partner.test", { addresses: ["10.9.0.3"], ttlSeconds: 30 });
  await clock.tickAll();
  assert.deepEqual(endpointsOf(s, name), ["10.9.0.3:80", "10.9.9.9:80"]);
  assert.equal(log.withMessage("DNS answer changed")[0]?.previous?.toString(), "10.9.0.1,10.9.0.2");

  dns.answers.set("api.partner.test", Object.assign(new Error("server failure"), { code: "ESERVFAIL" }));
  const gen = s.current.generation;
  await clock.tickAll();
  assert.deepEqual(endpointsOf(s, name), ["10.9.0.3:80", "10.9.9.9:80"], "the last good addresses stay");
  assert.equal(s.current.generation, gen, "a failure makes no new snapshot");
  assert.equal(log.withMessage(/DNS lookup failed; keeping/).length, 1);

  // CDS drops the cluster: its lookups stop.
  assert.equal(s.handleResponse(TYPE.cluster, [], "2"), null);
  assert.equal(clock.count(), 0);
});

test("a CDS update keeps the resolved addresses when the names stay; new names start resolving", async () => {
  const dns = fakeDns();
  const clock = manualClock();
  const { s } = wire(dns, clock);
  const a = "outbound|80||a.test", b = "outbound|80|v2|a.test";
  dns.answers.set("a.test", { addresses: ["10.1.0.1"], ttlSeconds: 0 });
  s.handleResponse(TYPE.cluster, [{ name: a, resource: dnsCluster(a, ["a.test"], 80) }], "1");
  await settle();
  assert.deepEqual(endpointsOf(s, a), ["10.1.0.1:80"]);
  // Same name, new timeout; and a subset cluster of the same host: still one lookup loop.
  s.handleResponse(TYPE.cluster, [{ name: a, resource: dnsCluster(a, ["a.test"], 80, { connect_timeout: { seconds: 2 } }) }, { name: b, resource: dnsCluster(b, ["a.test"], 80) }], "2");
  assert.deepEqual(endpointsOf(s, a), ["10.1.0.1:80"], "known addresses apply at once to the new cluster");
  assert.deepEqual(endpointsOf(s, b), ["10.1.0.1:80"]);
  assert.equal(s.current.clusters.get(a)?.connectTimeoutMs, 2000);
  assert.equal(clock.count(), 1, "clusters with equal settings share one lookup");
  assert.equal(dns.asked.length, 1);
  // A name that does not resolve keeps its endpoint as written.
  s.handleResponse(TYPE.cluster, [{ name: a, resource: dnsCluster(a, ["nowhere.test"], 80) }], "3");
  await settle();
  assert.deepEqual(endpointsOf(s, a), ["nowhere.test:80"]);
});

test("which endpoints are resolved, and how addresses replace them", () => {
  const ep = (host: string, tls?: Partial<NonNullable<EndpointAddress["tls"]>>): EndpointAddress => ({
    host, port: 443, key: `${host}:443`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined,
    tls: tls ? { kind: "files", sni: undefined, sans: [], alpn: [], minVersion: "TLSv1.2", ca: undefined, cert: undefined, key: undefined, cacheKey: "k", ...tls } : undefined,
  });
  assert.equal(resolvesByName(ep("10.0.0.1")), false);
  assert.equal(resolvesByName(ep("api.test")), true);
  assert.equal(resolvesByName(ep("api.test", {})), false, "TLS checked against the endpoint's own name keeps the name");
  assert.equal(resolvesByName(ep("api.test", { sni: "api.test" })), true);
  assert.equal(resolvesByName(ep("api.test", { sans: ["api.test"] })), true);
  assert.equal(resolvesByName(ep("api.test", { kind: "mesh" })), true);
  const out = resolvedEndpoints([ep("a.test"), ep("b.test"), ep("c.test")], (h) => (h === "a.test" ? ["10.0.0.1", "10.0.0.2"] : h === "b.test" ? ["10.0.0.2"] : undefined));
  assert.deepEqual(out.map((e) => e.key), ["10.0.0.1:443", "10.0.0.2:443", "c.test:443"], "an address two names share is one endpoint; an unresolved name stays");
});

/** An HTTP server on host:port that answers with its id. */
async function serve(id: string, host: string, port = 0): Promise<number> {
  const server = http.createServer((_req, res) => res.end(id));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return (server.address() as AddressInfo).port;
}

test("requests follow the answer: the sidecar moves to the new address once DNS says so", async () => {
  const port = await serve("first", "127.136.9.1");
  await serve("second", "127.136.9.2", port);
  const dns = fakeDns();
  dns.answers.set("api.partner.test", { addresses: ["127.136.9.1"], ttlSeconds: 0 });
  const plane = createDataPlane({ dnsLookup: dns.lookup, accessLog: () => {}, drainMs: 100 });
  cleanups.push(() => plane.close());
  const cluster = "outbound|80||api.partner.test";
  assert.equal(await feed(plane, {
    // A 50 ms refresh keeps the test short; the answer's TTL (0) does not stretch it.
    clusters: [dnsCluster(cluster, ["api.partner.test"], port, { dns_refresh_rate: { nanos: 50_000_000 }, respect_dns_ttl: true })],
    listeners: [hcmListener("out", { rds: "r" })],
    routes: [routeConfig("r", [vhost("api", ["*"], [toCluster(cluster)])])],
  }), null);
  const proxyPort = plane.listeners.port("out")!;
  const get = async () => (await viaProxy(proxyPort, "http://api.partner.test/")).body;
  let body = "";
  for (let i = 0; i < 100 && body !== "first"; i++) {
    body = await get();
    if (body !== "first") await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(body, "first");
  assert.deepEqual(plane.state.current.clusters.get(cluster)?.endpoints.map((e) => e.host), ["127.136.9.1"]);

  dns.answers.set("api.partner.test", { addresses: ["127.136.9.2"], ttlSeconds: 0 });
  for (let i = 0; i < 200 && body !== "second"; i++) {
    body = await get();
    if (body !== "second") await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(body, "second", "the new address is used after the next lookup");
  // A failing lookup keeps the sidecar on the last good address.
  dns.answers.set("api.partner.test", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
  const asked = dns.asked.length;
  for (let i = 0; i < 200 && dns.asked.length < asked + 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(dns.asked.length >= asked + 2, "lookups went on");
  assert.equal(await get(), "second");
});
