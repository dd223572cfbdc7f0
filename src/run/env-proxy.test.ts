// The runner relies on Node 24 sending a plain program's outbound HTTP to HTTP_PROXY when
// NODE_USE_ENV_PROXY=1 is set. This proves it for fetch (a CONNECT tunnel, undici's way) and
// for node:http (absolute-form requests), with no proxy code in the program.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { startTestProxy } from "./test-http-proxy.ts";

const PROGRAM = `
const http = await import("node:http");
const viaFetch = await fetch("http://target-svc:9080/hello").then((r) => r.text(), (e) => "fetch failed: " + e.cause);
const viaHttp = await new Promise((resolve) => {
  http.get("http://target-svc:9080/hi", (res) => { let b = ""; res.on("data", (c) => (b += c)); res.on("end", () => resolve(b)); })
    .on("error", (e) => resolve("http failed: " + e.message));
});
console.log(JSON.stringify({ viaFetch, viaHttp }));
`;

test("with NODE_USE_ENV_PROXY=1, plain fetch and node:http go to HTTP_PROXY", async () => {
  const target = http.createServer((req, res) => res.end(`target got ${req.url}`));
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  const proxy = await startTestProxy();
  proxy.routes.set("target-svc:9080", { host: "127.0.0.1", port: (target.address() as AddressInfo).port });
  try {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PROGRAM], {
      env: { ...process.env, HTTP_PROXY: proxy.url, NODE_USE_ENV_PROXY: "1", NO_PROXY: "localhost,127.0.0.1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await new Promise((r) => child.on("exit", r));
    clearTimeout(timer);
    assert.deepEqual(JSON.parse(out), { viaFetch: "target got /hello", viaHttp: "target got /hi" });
    assert.deepEqual(proxy.seen.map((s) => `${s.method} ${s.target}`).sort(), ["CONNECT target-svc:9080", "GET http://target-svc:9080/hi"]);
  } finally {
    await proxy.close();
    target.close();
  }
});
