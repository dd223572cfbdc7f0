// AdsServer + AdsClient over real loopback sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, credentials, Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import { AdsServer, type AdsServerOptions } from "./server.ts";
import { AdsClient } from "./client.ts";
import { TYPE } from "./envoy-types.ts";
import type { ProxyNode } from "./node.ts";
import { nodeToEnvoy } from "./node-codec.ts";
import { ADS_PATH, decodeResponse, encodeRequest, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from "./ads-service.ts";
import { assignment, edsCluster, rdsListener, simpleRoute, sleep, testNode, waitFor } from "./ads-test-kit.ts";

/** A mutable mesh: each test edits it, then calls push(). */
class World {
  listeners = new Map<string, object>([["l1", rdsListener("l1", 8080, "r1")], ["l2", rdsListener("l2", 8081, "r2")]]);
  routes = new Map<string, object>([["r1", simpleRoute("r1", "c1")], ["r2", simpleRoute("r2", "c2")]]);
  clusters = new Map<string, object>([["c1", edsCluster("c1")]]);
  endpoints = new Map<string, object>([["c1", assignment("c1", ["127.10.1.5"])]]);
  /** Per-proxy extra listeners, keyed by proxy name. */
  extra = new Map<string, object[]>();
  failFor = new Set<string>();

  resourcesFor = (node: ProxyNode): Map<string, ReadonlyMap<string, object>> => {
    if (this.failFor.has(node.name)) throw new Error("translator exploded");
    const listeners = new Map(this.listeners);
    for (const l of this.extra.get(node.name) ?? []) listeners.set((l as { name: string }).name, l);
    // Fresh maps on every call: tests change the world's maps, and the server may keep what it was given.
    return new Map([[TYPE.listener, listeners], [TYPE.route, new Map(this.routes)], [TYPE.cluster, new Map(this.clusters)], [TYPE.endpoint, new Map(this.endpoints)]]);
  };
}

interface Seen { typeUrl: string; version: string; names: string[]; resources: any[] }

class TestProxy {
  readonly seen: Seen[] = [];
  /** Last accepted state per type: what a real proxy would be running. */
  readonly accepted = new Map<string, Seen>();
  reject: ((s: Seen) => string | null) | undefined;
  readonly client: AdsClient;

  constructor(port: number, node: ProxyNode, onConnectionChange?: (connected: boolean) => void) {
    this.client = new AdsClient({
      server: `127.0.0.1:${port}`,
      node,
      onConnectionChange,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      onResponse: (typeUrl, resources, version) => {
        const s = { typeUrl, version, names: resources.map((r) => r.name), resources: resources.map((r) => r.resource) };
        this.seen.push(s);
        const problem = this.reject?.(s) ?? null;
        if (problem === null) this.accepted.set(typeUrl, s);
        return problem;
      },
    });
  }

  count(typeUrl: string): number {
    return this.seen.filter((s) => s.typeUrl === typeUrl).length;
  }

  last(typeUrl: string): Seen | undefined {
    return this.seen.filter((s) => s.typeUrl === typeUrl).at(-1);
  }

  /** "all" subscribes to the wildcard, a list to exactly those names. */
  startWith(subs: [string, string[] | "all"][]): this {
    this.client.start();
    for (const [t, names] of subs) {
      if (names === "all") this.client.subscribeAll(t);
      else this.client.subscribe(t, names);
    }
    return this;
  }
}

async function withServer(world: World, fn: (server: AdsServer, port: number) => Promise<void>, extra: Partial<AdsServerOptions> = {}): Promise<void> {
  const server = new AdsServer({ resourcesFor: world.resourcesFor, debounceMs: 20, ...extra });
  const port = await server.listen("127.0.0.1", 0);
  try {
    await fn(server, port);
  } finally {
    await server.close();
  }
}

function typeStatus(server: AdsServer, proxyName: string, typeUrl: string) {
  return server.syncStatus().find((p) => p.proxyId.includes(`~${proxyName}.`))?.types.find((t) => t.typeUrl === typeUrl);
}

const synced = (server: AdsServer, name: string, typeUrl: string) => () => typeStatus(server, name, typeUrl)?.state === "SYNCED";

test("ACK flow: wildcard LDS, then sync status shows sent == acked", { timeout: 20_000 }, async () => {
  const world = new World();
  const connected: string[] = [];
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"], [TYPE.cluster, "all"]]);
    try {
      await waitFor("LDS and CDS synced", () => synced(server, "a", TYPE.listener)() && synced(server, "a", TYPE.cluster)());
      assert.deepEqual(proxy.last(TYPE.listener)?.names, ["l1", "l2"]);
      assert.equal(proxy.last(TYPE.listener)?.resources[0].filter_chains[0].filters[0].typed_config.rds.route_config_name, "r1");
      const lds = typeStatus(server, "a", TYPE.listener)!;
      assert.equal(lds.wildcard, true);
      assert.equal(lds.sent?.version, proxy.last(TYPE.listener)?.version);
      assert.equal(lds.acked?.version, lds.sent?.version);
      assert.deepEqual(lds.sent?.names, ["l1", "l2"]);
      assert.ok(lds.sent!.nonce.length > 0);
      assert.equal(lds.nack, undefined);
      assert.deepEqual(connected, [testNode("a").id]);
      assert.equal(server.stats().connectedProxies, 1);
      assert.equal(server.stats().pushesByType[TYPE.listener], 1);
      assert.equal(proxy.client.connected, true);
    } finally {
      proxy.client.close();
    }
    await waitFor("disconnect seen", () => server.connections().length === 0);
  }, { onConnect: (node) => connected.push(node.id) });
});

test("NACK is recorded, the proxy keeps its state, the same content is not resent", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("LDS synced", synced(server, "a", TYPE.listener));
      const good = proxy.accepted.get(TYPE.listener)!;
      proxy.reject = (s) => (s.names.includes("bad") ? "listener bad: port 1 is privileged" : null);
      world.listeners.set("bad", rdsListener("bad", 1, "r1"));
      server.push("add bad listener");
      await waitFor("NACK recorded", () => typeStatus(server, "a", TYPE.listener)?.nack !== undefined);
      const lds = typeStatus(server, "a", TYPE.listener)!;
      assert.equal(lds.state, "NACKED");
      assert.equal(lds.nack?.message, "listener bad: port 1 is privileged");
      assert.equal(lds.nack?.version, lds.sent?.version);
      assert.equal(lds.acked?.version, good.version, "server keeps the acked version");
      assert.equal(proxy.accepted.get(TYPE.listener), good, "proxy keeps its last good state");
      assert.equal(server.stats().nacks, 1);
      const before = proxy.count(TYPE.listener);
      const rounds = server.stats().pushRounds;
      server.push("unrelated change");
      await waitFor("push round ran", () => server.stats().pushRounds > rounds);
      await sleep(50);
      assert.equal(proxy.count(TYPE.listener), before, "rejected content is not sent again");
      // Fixing the config clears the NACK.
      world.listeners.delete("bad");
      server.push("remove bad listener");
      await waitFor("synced again", synced(server, "a", TYPE.listener));
      assert.equal(typeStatus(server, "a", TYPE.listener)?.nack, undefined);
    } finally {
      proxy.client.close();
    }
  });
});

test("push with a predicate reaches only the matching proxies", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const a = new TestProxy(port, testNode("a", { ip: "127.10.1.1" })).startWith([[TYPE.listener, "all"]]);
    const b = new TestProxy(port, testNode("b", { ip: "127.10.1.2" })).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("both synced", () => synced(server, "a", TYPE.listener)() && synced(server, "b", TYPE.listener)());
      world.listeners.set("l3", rdsListener("l3", 9090, "r1"));
      server.push("l3 for a only", (node) => node.name === "a");
      await waitFor("a got l3", () => a.last(TYPE.listener)!.names.includes("l3"));
      await sleep(50);
      assert.deepEqual(b.last(TYPE.listener)!.names, ["l1", "l2"], "b was not recomputed");
      assert.equal(b.count(TYPE.listener), 1);
      server.push("everyone");
      await waitFor("b got l3", () => b.last(TYPE.listener)!.names.includes("l3"));
      assert.equal(a.count(TYPE.listener), 2, "a already had it: no second response");
    } finally {
      a.client.close();
      b.client.close();
    }
  });
});

test("identical content gives no new response", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"], [TYPE.route, ["r1"]]]);
    try {
      await waitFor("synced", () => synced(server, "a", TYPE.listener)() && synced(server, "a", TYPE.route)());
      const pushes = server.stats().pushesByType;
      // Rebuilt objects with equal content: same bytes, same version.
      world.listeners = new Map([["l1", rdsListener("l1", 8080, "r1")], ["l2", rdsListener("l2", 8081, "r2")]]);
      world.routes = new Map([["r1", simpleRoute("r1", "c1")], ["r2", simpleRoute("r2", "c2-changed")]]);
      const rounds = server.stats().pushRounds;
      server.push("no-op");
      await waitFor("push round ran", () => server.stats().pushRounds > rounds);
      await sleep(50);
      assert.deepEqual(server.stats().pushesByType, pushes, "r2 changed but a only subscribed to r1");
      assert.equal(proxy.seen.length, 2);
    } finally {
      proxy.client.close();
    }
  });
});

test("a listener removed from the wildcard set disappears from the next response", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("synced", synced(server, "a", TYPE.listener));
      world.listeners.delete("l2");
      server.push("l2 deleted");
      await waitFor("l2 gone", () => proxy.count(TYPE.listener) === 2);
      assert.deepEqual(proxy.last(TYPE.listener)!.names, ["l1"]);
      await waitFor("synced", synced(server, "a", TYPE.listener));
      assert.deepEqual(typeStatus(server, "a", TYPE.listener)?.sent?.names, ["l1"]);
    } finally {
      proxy.client.close();
    }
  });
});

test("RDS and EDS send only the requested names; a new subscription is answered at once", { timeout: 20_000 }, async () => {
  const world = new World();
  world.endpoints.set("c2", assignment("c2", ["127.10.1.6", "127.10.1.7"]));
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.route, ["r1"]], [TYPE.endpoint, ["c2", "missing"]]]);
    try {
      await waitFor("RDS synced", () => synced(server, "a", TYPE.route)() && synced(server, "a", TYPE.endpoint)());
      assert.deepEqual(proxy.last(TYPE.route)!.names, ["r1"]);
      assert.deepEqual(proxy.last(TYPE.endpoint)!.names, ["c2"]);
      assert.equal(proxy.last(TYPE.endpoint)!.resources[0].endpoints[0].lb_endpoints.length, 2);
      proxy.client.subscribe(TYPE.route, ["r1", "r2"]);
      await waitFor("r2 arrives", () => proxy.last(TYPE.route)!.names.length === 2);
      assert.deepEqual(proxy.last(TYPE.route)!.names, ["r1", "r2"]);
      assert.deepEqual(typeStatus(server, "a", TYPE.route)?.subscribed, ["r1", "r2"]);
    } finally {
      proxy.client.close();
    }
  });
});

test("unsubscribing the last RDS / EDS name sends an empty request, answered with nothing", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"], [TYPE.route, ["r1"]], [TYPE.endpoint, []]]);
    try {
      await waitFor("LDS and RDS synced", () => synced(server, "a", TYPE.listener)() && synced(server, "a", TYPE.route)());
      assert.equal(typeStatus(server, "a", TYPE.endpoint), undefined, "an empty EDS subscription that never had names is not sent");
      assert.deepEqual(proxy.last(TYPE.route)!.names, ["r1"]);
      const routeResponses = proxy.count(TYPE.route);
      proxy.client.subscribe(TYPE.route, []);
      await waitFor("empty RDS response", () => proxy.count(TYPE.route) === routeResponses + 1);
      assert.deepEqual(proxy.last(TYPE.route)!.names, [], "empty RDS means none, not everything");
      await waitFor("RDS synced", synced(server, "a", TYPE.route));
      const rds = typeStatus(server, "a", TYPE.route)!;
      assert.equal(rds.wildcard, false);
      assert.deepEqual(rds.subscribed, []);
      // A change to r1 no longer reaches the proxy.
      const rounds = server.stats().pushRounds;
      world.routes.set("r1", simpleRoute("r1", "c9"));
      server.push("r1 changed");
      await waitFor("push ran", () => server.stats().pushRounds > rounds);
      proxy.client.subscribe(TYPE.endpoint, ["c1"]);
      await waitFor("EDS answered", () => proxy.last(TYPE.endpoint)?.names.length === 1);
      assert.equal(proxy.count(TYPE.route), routeResponses + 1, "unsubscribed route is not pushed");
      assert.equal(typeStatus(server, "a", TYPE.listener)?.wildcard, true, "LDS stays a wildcard");
    } finally {
      proxy.client.close();
    }
  });
});

test("server: an empty LDS list after named LDS means none; \"*\" is wildcard again", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, ["l1"]]]);
    try {
      await waitFor("named LDS", () => proxy.last(TYPE.listener)?.names.length === 1);
      proxy.client.subscribe(TYPE.listener, []);
      await waitFor("LDS none", () => proxy.last(TYPE.listener)?.names.length === 0);
      assert.equal(typeStatus(server, "a", TYPE.listener)?.wildcard, false);
      proxy.client.subscribeAll(TYPE.listener); // sent as "*" now that the stream named listeners
      await waitFor("LDS all", () => proxy.last(TYPE.listener)?.names.length === 2);
      assert.equal(typeStatus(server, "a", TYPE.listener)?.wildcard, true);
    } finally {
      proxy.client.close();
    }
  });
});

test("client reconnects after the server restarts on the same port and resubscribes", { timeout: 30_000 }, async () => {
  const world = new World();
  const first = new AdsServer({ resourcesFor: world.resourcesFor, debounceMs: 20 });
  const port = await first.listen("127.0.0.1", 0);
  const changes: boolean[] = [];
  const proxy = new TestProxy(port, testNode("a"), (c) => changes.push(c));
  let second: AdsServer | undefined;
  try {
    proxy.startWith([[TYPE.listener, "all"], [TYPE.route, ["r1"]]]);
    await waitFor("synced on first server", () => synced(first, "a", TYPE.listener)() && synced(first, "a", TYPE.route)());
    const ldsVersion = proxy.last(TYPE.listener)!.version;
    await first.close();
    await waitFor("client notices", () => !proxy.client.connected);
    second = new AdsServer({ resourcesFor: world.resourcesFor, debounceMs: 20 });
    assert.equal(await second.listen("127.0.0.1", port), port);
    await waitFor("resubscribed on second server", () => synced(second!, "a", TYPE.listener)() && synced(second!, "a", TYPE.route)());
    assert.equal(proxy.client.connected, true);
    assert.deepEqual(typeStatus(second, "a", TYPE.route)?.subscribed, ["r1"]);
    assert.equal(typeStatus(second, "a", TYPE.listener)?.acked?.version, ldsVersion, "same content: the proxy's version stands");
    assert.equal(proxy.count(TYPE.listener), 1, "unchanged content is not resent after reconnect");
    assert.deepEqual(changes.slice(0, 3), [true, false, true]);
    world.listeners.set("l9", rdsListener("l9", 9999, "r1"));
    second.push("new listener after reconnect");
    await waitFor("new content flows", () => proxy.last(TYPE.listener)!.names.includes("l9"));
  } finally {
    proxy.client.close();
    await first.close();
    await second?.close();
  }
});

test("debounce coalesces 20 rapid pushes into one response", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("synced", synced(server, "a", TYPE.listener));
      const rounds = server.stats().pushRounds;
      for (let i = 0; i < 20; i++) {
        world.listeners.set(`burst-${i}`, rdsListener(`burst-${i}`, 10_000 + i, "r1"));
        server.push(`change ${i}`);
      }
      await waitFor("burst delivered", () => proxy.last(TYPE.listener)!.names.length === 22);
      await sleep(100);
      assert.equal(server.stats().pushRounds, rounds + 1);
      assert.equal(proxy.count(TYPE.listener), 2);
      assert.equal(server.stats().lastPushReasons.at(-1), "change 19");
    } finally {
      proxy.client.close();
    }
  }, { debounceMs: 50 });
});

test("a generation error keeps the proxy's config and is counted", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("synced", synced(server, "a", TYPE.listener));
      world.failFor.add("a");
      world.listeners.set("l3", rdsListener("l3", 9090, "r1"));
      server.push("breaks translation");
      await waitFor("error counted", () => server.stats().generationErrors === 1);
      assert.equal(proxy.count(TYPE.listener), 1);
      world.failFor.clear();
      world.listeners.set("bad", { name: "bad", adress: {} });
      server.push("malformed resource");
      await waitFor("encode error counted", () => server.stats().generationErrors === 2);
      assert.equal(proxy.count(TYPE.listener), 1);
      assert.equal(typeStatus(server, "a", TYPE.listener)?.state, "SYNCED");
    } finally {
      proxy.client.close();
    }
  });
});

function rawStream(port: number): { stream: ClientDuplexStream<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage>; client: Client; got: DiscoveryResponseMessage[]; ended: Promise<string> } {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const stream = client.makeBidiStreamRequest(ADS_PATH, encodeRequest, decodeResponse, new Metadata()) as ClientDuplexStream<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage>;
  const got: DiscoveryResponseMessage[] = [];
  stream.on("data", (r: DiscoveryResponseMessage) => got.push(r));
  const ended = new Promise<string>((resolve) => {
    stream.on("error", (e: Error) => resolve(e.message));
    stream.on("end", () => resolve("end"));
  });
  return { stream, client, got, ended };
}

test("garbage type URLs and a missing node do not crash the server", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const noNode = rawStream(port);
    noNode.stream.write({ type_url: TYPE.listener });
    assert.match(await noNode.ended, /INVALID_ARGUMENT|no node/i);
    noNode.client.close();

    const garbage = rawStream(port);
    garbage.stream.write({ type_url: "garbage", node: nodeToEnvoy(testNode("g")) as Record<string, unknown> });
    garbage.stream.write({ type_url: "type.googleapis.com/not.a.Type" });
    garbage.stream.write({ type_url: TYPE.cluster });
    await waitFor("CDS answered after garbage", () => garbage.got.length === 1);
    assert.equal(garbage.got[0]!.type_url, TYPE.cluster);
    assert.equal(garbage.got[0]!.resources.length, 1);
    assert.equal(server.stats().badRequests, 3);
    garbage.stream.end();
    garbage.client.close();

    // Still serving normal proxies.
    const proxy = new TestProxy(port, testNode("a")).startWith([[TYPE.listener, "all"]]);
    try {
      await waitFor("synced", synced(server, "a", TYPE.listener));
    } finally {
      proxy.client.close();
    }
  });
});

test("a request with a stale nonce is ignored; the current nonce is ACKed", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (server, port) => {
    const raw = rawStream(port);
    try {
      raw.stream.write({ type_url: TYPE.listener, node: nodeToEnvoy(testNode("raw")) as Record<string, unknown> });
      await waitFor("first response", () => raw.got.length === 1);
      world.listeners.set("l3", rdsListener("l3", 9090, "r1"));
      server.push("l3");
      await waitFor("second response", () => raw.got.length === 2);
      const [first, second] = raw.got as [DiscoveryResponseMessage, DiscoveryResponseMessage];
      assert.notEqual(first.nonce, second.nonce);
      assert.notEqual(first.version_info, second.version_info);
      raw.stream.write({ type_url: TYPE.listener, version_info: first.version_info, response_nonce: first.nonce });
      await waitFor("stale nonce counted", () => server.stats().staleNonces === 1);
      assert.equal(typeStatus(server, "raw", TYPE.listener)?.state, "STALE");
      raw.stream.write({ type_url: TYPE.listener, version_info: second.version_info, response_nonce: second.nonce });
      await waitFor("ACK of the current nonce", synced(server, "raw", TYPE.listener));
      assert.equal(typeStatus(server, "raw", TYPE.listener)?.acked?.version, second.version_info);
      assert.equal(raw.got.length, 2);
    } finally {
      raw.stream.end();
      raw.client.close();
    }
  });
});

test("listen reports a port already in use", { timeout: 20_000 }, async () => {
  const world = new World();
  await withServer(world, async (_server, port) => {
    const other = new AdsServer({ resourcesFor: world.resourcesFor });
    await assert.rejects(other.listen("127.0.0.1", port), /cannot listen on 127\.0\.0\.1:\d+/);
    await other.close();
  });
});

test("a push spread over event-loop turns reaches every proxy, and a push arriving meanwhile is not lost", { timeout: 20_000 }, async () => {
  const world = new World();
  // Runs once, at the third generation after it is set: mid-push, after "a" was refreshed.
  let onGenerate: (() => void) | undefined;
  let countdown = 0;
  const resourcesFor = (node: ProxyNode) => {
    if (onGenerate && --countdown === 0) {
      const hook = onGenerate;
      onGenerate = undefined;
      hook();
    }
    return world.resourcesFor(node);
  };
  // pushSliceMs 0: yield to the event loop after every proxy.
  const server = new AdsServer({ resourcesFor, debounceMs: 5, pushSliceMs: 0 });
  const port = await server.listen("127.0.0.1", 0);
  const names = ["a", "b", "c", "d", "e"];
  const proxies = names.map((n, i) => new TestProxy(port, testNode(n, { ip: `127.10.1.${i + 1}` })).startWith([[TYPE.listener, "all"]]));
  try {
    await waitFor("all synced", () => names.every((n) => synced(server, n, TYPE.listener)()));
    world.listeners.set("l3", rdsListener("l3", 9090, "r1"));
    // While the first push is under way, another change scoped to "a" only.
    countdown = 3;
    onGenerate = () => {
      world.listeners.set("l4", rdsListener("l4", 9091, "r1"));
      server.push("l4 for a", (node) => node.name === "a");
    };
    server.push("l3 for everyone");
    await waitFor("everyone has l3", () => proxies.every((p) => p.last(TYPE.listener)!.names.includes("l3")));
    await waitFor("a has l4", () => proxies[0]!.last(TYPE.listener)!.names.includes("l4"));
    await waitFor("all acked", () => names.every((n) => synced(server, n, TYPE.listener)()));
    for (const p of proxies) {
      const versions = p.seen.filter((s) => s.typeUrl === TYPE.listener).map((s) => s.version);
      assert.equal(new Set(versions).size, versions.length, "no content is sent twice to one proxy");
    }
  } finally {
    for (const p of proxies) p.client.close();
    await server.close();
  }
});
