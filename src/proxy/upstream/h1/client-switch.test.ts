import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import type net from "node:net";
import type { EndpointAddress } from "../../state/types.ts";
import { ClusterRuntime } from "../cluster-runtime.ts";
import { startHttp1Try, upstreamClientFrom, type UpstreamClient } from "./client-switch.ts";

test("the switch reads lean or node; unset or anything else is the default, lean", () => {
  assert.equal(upstreamClientFrom(undefined), "lean");
  assert.equal(upstreamClientFrom("node"), "node");
  assert.equal(upstreamClientFrom("lean"), "lean");
  assert.equal(upstreamClientFrom("LEAN!"), "lean");
});

test("both clients answer through the cluster's pools, and the runtime counts either's connections", async () => {
  const server = http.createServer((req, res) => res.end(`${req.method} ${req.url}`));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const ep = { host: "127.0.0.1", port, key: `127.0.0.1:${port}`, healthy: true, healthStatus: "HEALTHY", weight: 1, socketMatch: undefined, tls: undefined } as EndpointAddress;
  for (const client of ["node", "lean"] as UpstreamClient[]) {
    const rt = new ClusterRuntime(`c-${client}`);
    const body = await new Promise<string>((resolve, reject) => {
      startHttp1Try(rt, { endpoint: ep, method: "GET", path: "/x", headers: { host: "h" }, connectTimeoutMs: 5000, body: undefined }, {
        onResponse: (res) => {
          let b = "";
          res.on("data", (c: Buffer) => (b += c.toString()));
          res.on("end", () => resolve(b));
        },
        onFailure: (kind, detail) => reject(new Error(`${kind} ${detail}`)),
      }, client);
    });
    assert.equal(body, "GET /x", client);
    // The kept connection is visible to the admin view whichever client made it.
    while (rt.connections("127.0.0.1", port) !== 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(rt.h1.plainTotal(), client === "lean" ? 1 : 0);
    rt.retire();
  }
  server.close();
});
