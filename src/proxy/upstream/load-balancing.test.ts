import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { ClusterLoadAssignment } from "../../xds/envoy-types.ts";
import { edsCluster, hcmListener, routeConfig, startPlane, startUpstream, toCluster, viaProxy, vhost, type Upstream } from "../test-kit.ts";

const opened: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of opened.reverse()) await o.close();
});
const T = { timeout: 15_000 };

function weighted(name: string, eps: { port: number; weight?: number }[]): ClusterLoadAssignment {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: eps.map((e) => ({ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: e.port } } }, health_status: "HEALTHY" as const, ...(e.weight ? { load_balancing_weight: { value: e.weight } } : {}) })) }],
  };
}

async function planeFor(cluster: Parameters<typeof edsCluster>[1], eps: { port: number; weight?: number }[]) {
  const plane = await startPlane({
    clusters: [edsCluster("c", cluster)],
    endpoints: [weighted("c", eps)],
    listeners: [hcmListener("out", { routeConfig: routeConfig("r", [vhost("all", ["*"], [toCluster("c")])]) })],
  });
  opened.push(plane);
  return plane;
}

async function upstreams(ids: string[]): Promise<Upstream[]> {
  const ups = await Promise.all(ids.map((id) => startUpstream(id)));
  opened.push(...ups);
  return ups;
}

async function count(port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(port, "http://c/");
    assert.equal(r.status, 200);
    const id = r.headers["x-upstream"] as string;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

test("weighted round robin sends exactly 3:1 over 40 requests", T, async () => {
  const [a, b] = await upstreams(["a", "b"]);
  const plane = await planeFor({ lb_policy: "ROUND_ROBIN" }, [{ port: a.port, weight: 3 }, { port: b.port, weight: 1 }]);
  assert.deepEqual(await count(plane.port("out"), 40), { a: 30, b: 10 });
});

test("random reaches every host, and weights skew it", T, async () => {
  const ups = await upstreams(["x", "y", "z"]);
  const plane = await planeFor({ lb_policy: "RANDOM" }, ups.map((u) => ({ port: u.port })));
  const even = await count(plane.port("out"), 90);
  assert.deepEqual(Object.keys(even).sort(), ["x", "y", "z"]);
  const heavy = await planeFor({ lb_policy: "RANDOM" }, [{ port: ups[0].port, weight: 20 }, { port: ups[1].port, weight: 1 }]);
  const skewed = await count(heavy.port("out"), 60);
  assert.ok((skewed.x ?? 0) > (skewed.y ?? 0), JSON.stringify(skewed));
});

test("least request sends to the idle host while the other one is busy", T, async () => {
  let held: (() => void)[] = [];
  let slowArrived: () => void = () => {};
  const slow = await startUpstream("slow", (req, res) => {
    req.resume();
    held.push(() => res.end("slow"));
    slowArrived();
  });
  opened.push(slow);
  const [fast] = await upstreams(["fast"]);
  const plane = await planeFor({ lb_policy: "LEAST_REQUEST" }, [{ port: slow.port }, { port: fast.port }]);
  const port = plane.port("out");
  const counts = { slow: 0, fast: 0 };
  const pendingSlow: Promise<unknown>[] = [];
  for (let i = 0; i < 20; i++) {
    // Each request either comes back from the fast host or sticks at the slow one.
    const arrived = new Promise<"slow">((r) => { slowArrived = () => r("slow"); });
    const reply = viaProxy(port, "http://c/");
    const who = await Promise.race([arrived, reply.then((r) => r.headers["x-upstream"] as string)]);
    if (who === "slow") {
      counts.slow++;
      pendingSlow.push(reply);
    } else counts.fast++;
  }
  // At most the very first request (both idle) may go to the slow host.
  assert.ok(counts.slow <= 1, JSON.stringify(counts));
  assert.equal(counts.slow + counts.fast, 20);
  for (const release of held) release();
  held = [];
  await Promise.all(pendingSlow);
});

test("max_requests_per_connection closes a connection after that many requests", T, async () => {
  const [solo] = await upstreams(["solo"]);
  const plane = await planeFor({ common_http_protocol_options: { max_requests_per_connection: { value: 2 } } }, [{ port: solo.port }]);
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(JSON.parse((await viaProxy(plane.port("out"), "http://c/")).body).remotePort);
  assert.equal(new Set(ports).size, 3, JSON.stringify(ports));
  assert.equal(ports[0], ports[1]);
  assert.notEqual(ports[1], ports[2]);
});

test("an unsupported load balancing policy is rejected with the field named", T, async () => {
  const policy = "LOAD_BALANCING_POLICY_CONFIG" as NonNullable<Parameters<typeof edsCluster>[1]>["lb_policy"];
  await assert.rejects(planeFor({ lb_policy: policy }, [{ port: 1 }]), /lb_policy.*LOAD_BALANCING_POLICY_CONFIG is not supported/);
});

test("idle_timeout closes pooled connections that sat idle; a slower answer on a busy one is not cut", T, async () => {
  const slow = await startUpstream("slow", (req, res) => {
    req.resume();
    setTimeout(() => res.end(JSON.stringify({ remotePort: req.socket.remotePort })), 150);
  });
  opened.push(slow);
  const plane = await planeFor({ common_http_protocol_options: { idle_timeout: { seconds: 0, nanos: 50_000_000 } } }, [{ port: slow.port }]);
  const first = await viaProxy(plane.port("out"), "http://c/");
  assert.equal(first.status, 200, "150 ms of work on a busy connection outlives a 50 ms idle timeout");
  const rt = plane.runtimes.peek("c")!;
  while (rt.connections("127.0.0.1", slow.port) > 0) await new Promise((r) => setTimeout(r, 10));
  const second = await viaProxy(plane.port("out"), "http://c/");
  assert.notEqual(JSON.parse(second.body).remotePort, JSON.parse(first.body).remotePort);
});
