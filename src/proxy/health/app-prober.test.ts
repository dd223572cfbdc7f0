// The app prober against real loopback listeners that come and go.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { AppProber, probeAll } from "./app-prober.ts";

const HOST = "127.0.0.1";

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((sock) => sock.destroy());
    s.once("error", reject);
    s.listen(port, HOST, () => resolve(s));
  });
}

function portOf(s: net.Server): number {
  return (s.address() as net.AddressInfo).port;
}

function closeServer(s: net.Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = await listen();
  const port = portOf(s);
  await closeServer(s);
  return port;
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Change { healthy: boolean; message: string | undefined }

test("reports unhealthy while nothing listens, healthy when the app comes up, unhealthy when it goes", async () => {
  const port = await freePort();
  const changes: Change[] = [];
  const prober = new AppProber({ host: HOST, ports: [port], startupIntervalMs: 20, intervalMs: 30, onChange: (healthy, message) => changes.push({ healthy, message }) });
  prober.start();
  try {
    await until("first result", () => changes.length >= 1);
    assert.equal(changes[0]!.healthy, false);
    assert.match(changes[0]!.message ?? "", new RegExp(`${HOST}:${port}: connection refused`));

    // More failed probes with the same reason are not reported again.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(changes.length, 1);

    const app = await listen(port);
    await until("healthy", () => changes.length >= 2);
    assert.deepEqual(changes[1], { healthy: true, message: undefined });
    assert.deepEqual(prober.current, { healthy: true });

    await closeServer(app);
    await until("unhealthy again", () => changes.length >= 3);
    assert.equal(changes[2]!.healthy, false);
    assert.match(changes[2]!.message ?? "", /ECONNREFUSED/);
  } finally {
    prober.stop();
  }
});

test("healthy only when every port accepts; the message names the port that does not", async () => {
  const up = await listen();
  const down = await freePort();
  try {
    const r = await probeAll(HOST, [portOf(up), down], 1000);
    assert.equal(r.healthy, false);
    assert.match(r.message ?? "", new RegExp(`:${down}: `));
    assert.deepEqual(await probeAll(HOST, [portOf(up)], 1000), { healthy: true });
  } finally {
    await closeServer(up);
  }
});

test("a workload without ports is healthy at once, without probing", () => {
  const changes: Change[] = [];
  const prober = new AppProber({ host: HOST, ports: [], onChange: (healthy, message) => changes.push({ healthy, message }) });
  prober.start();
  prober.stop();
  assert.deepEqual(changes, [{ healthy: true, message: undefined }]);
});

test("stop() ends probing: no report after it", async () => {
  const port = await freePort();
  const changes: Change[] = [];
  const prober = new AppProber({ host: HOST, ports: [port], startupIntervalMs: 10, onChange: (healthy, message) => changes.push({ healthy, message }) });
  prober.start();
  await until("first result", () => changes.length >= 1);
  prober.stop();
  const app = await listen(port);
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(changes.length, 1);
  } finally {
    await closeServer(app);
  }
});
