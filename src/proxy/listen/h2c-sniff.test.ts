// The first-bytes sniff (HTTP/1.1 or h2c) must not keep a socket its peer has closed.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { hcmListener, routeConfig, startPlane, startUpstream, toCluster, vhost, edsCluster, cla } from "../test-kit.ts";

test("a peer that closes before sending a byte gets its connection closed, not left half-open", { timeout: 10_000 }, async () => {
  const up = await startUpstream("up");
  const plane = await startPlane({
    clusters: [edsCluster("c")],
    endpoints: [cla("c", [{ port: up.port }])],
    listeners: [hcmListener("http_proxy", { rds: "r" })],
    routes: [routeConfig("r", [vhost("v", ["*"], [toCluster("c")])])],
  });
  try {
    const sock = net.connect({ host: "127.0.0.1", port: plane.port("http_proxy") });
    await once(sock, "connect");
    sock.end(); // FIN without a byte: the proxy must answer with its own FIN
    await once(sock, "close");
    // And the listener still serves.
    const again = net.connect({ host: "127.0.0.1", port: plane.port("http_proxy") });
    again.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let reply = "";
    again.on("data", (c: Buffer) => (reply += c.toString()));
    await once(again, "close");
    assert.match(reply, /^HTTP\/1\.1 200 /);
  } finally {
    await plane.close();
    await up.close();
  }
});
