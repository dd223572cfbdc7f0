// The control-plane scale bench's generated mesh is valid config, and the route check the
// simulated proxies use finds exactly the subset the translator routes svc-0 to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigText } from "../../src/api/index.ts";
import { nodeFromFlags } from "../../src/cli/proxy.ts";
import { inputFor } from "../../src/translate/test-support.ts";
import { translate } from "../../src/translate/index.ts";
import { routeMarker, routeYaml, servicesYaml, subsetsYaml, SUBSETS, workloadAddress } from "./scale-config.ts";
import { watchedVirtualHosts } from "./simulated-proxy.ts";

const sim = nodeFromFlags({ xds: "x", namespace: "default", ports: "", autoRegister: false, adminPort: "15000", ip: "127.145.1.1", name: "sim-0", labels: "app=sim", serviceAccount: "default" });

function translated(services: number, subset: (typeof SUBSETS)[number]) {
  const parsed = parseConfigText(`${servicesYaml(services)}---\n${subsetsYaml()}---\n${routeYaml(subset)}`, "scale.yaml");
  assert.deepEqual(parsed.errors, []);
  return { objects: parsed.objects, out: translate(inputFor(parsed.objects, [sim], sim)) };
}

test("N services become N Services and N WorkloadEntries, each on its own address", () => {
  const { objects } = translated(300, "v1");
  assert.equal(objects.filter((o) => o.kind === "Service").length, 300);
  const addrs = objects.filter((o) => o.kind === "WorkloadEntry").map((o) => (o.spec as { address: string }).address);
  assert.equal(new Set(addrs).size, 300);
  assert.equal(workloadAddress(0), "127.144.1.1");
  assert.equal(workloadAddress(256), "127.144.2.1");
});

test("every service gets a cluster and a virtual host in the proxy's config", () => {
  const { out } = translated(50, "v1");
  const outbound = out.clusters.filter((c) => c.name.startsWith("outbound|8080||svc-"));
  assert.equal(outbound.length, 50);
  const vhosts = out.routes.flatMap((r) => r.virtual_hosts).filter((v) => v.name.startsWith("svc-"));
  assert.ok(vhosts.length >= 50);
});

test("the watched virtual host names the subset the VirtualService routes to, and no other", () => {
  for (const subset of SUBSETS) {
    const { out } = translated(20, subset);
    const watched = watchedVirtualHosts(out.routes.map((resource) => ({ resource })), "svc-0.");
    for (const other of SUBSETS) assert.equal(watched.includes(routeMarker(other)), other === subset, `routes to ${subset}, checked for ${other}`);
    // svc-10's virtual host is not svc-0's, though its name starts alike.
    assert.ok(!watched.includes("svc-10."));
  }
});

test("a service count outside 1..60000 is refused with the reason", () => {
  assert.throws(() => servicesYaml(0), /between 1 and 60000/);
  assert.throws(() => servicesYaml(1.5), /between 1 and 60000/);
});
