// A workload in any language is meshed without code changes: the runner points HTTP_PROXY at
// its sidecar, and curl, Python's urllib, Node's http module and Node's fetch (which tunnels
// with CONNECT) all reach a service by its mesh name through the sidecar.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMesh, type TestMesh } from "../support/mesh.ts";
import { waitFor } from "../support/http.ts";

const dir = mkdtempSync(join(tmpdir(), "mizzen-clients-"));
let mesh: TestMesh | undefined;
after(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

writeFileSync(join(dir, "hello.txt"), "hello from the python workload\n");
writeFileSync(
  join(dir, "workloads.yaml"),
  `workloads:
  - name: web
    labels: { app: web }
    ports: [{ name: http, port: 8000 }]
    command: "exec python3 -m http.server $PORT --bind $HOST"
  - name: clients
    labels: { app: clients }
    ports: [{ name: http, port: 8001 }]
    command: "sh clients.sh"
`,
);
// Each client retries until the web workload's endpoint is registered, prints one line, then idles.
writeFileSync(
  join(dir, "clients.sh"),
  `try() { name=$1; shift; for i in $(seq 1 100); do out=$("$@" 2>/dev/null) && { echo "$name OK $out"; return; }; sleep 0.2; done; echo "$name FAILED"; }
try curl curl -fsS http://web/hello.txt
try python3 python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://web/hello.txt").read().decode())'
try node-http node -e 'require("http").get("http://web/hello.txt", r => { let b=""; r.on("data", c => b += c); r.on("end", () => { process.stdout.write(b); process.exit(r.statusCode === 200 ? 0 : 1); }); }).on("error", () => process.exit(1))'
try node-fetch node -e 'fetch("http://web/hello.txt").then(async r => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(1))'
exec sleep 100000
`,
);
writeFileSync(
  join(dir, "svc.yaml"),
  `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8000 }]
`,
);

test("curl, python, node http and node fetch reach a mesh service through their sidecar", async () => {
  mesh = await startMesh(dir, 105, 2);
  await waitFor("all four clients", async () => /node-fetch (OK|FAILED)/.test(mesh!.output()), 60_000, 200);
  const out = mesh.output();
  for (const client of ["curl", "python3", "node-http", "node-fetch"]) {
    assert.match(out, new RegExp(`${client} OK hello from the python workload`), `${client} went through the mesh\n${out.slice(-3000)}`);
  }
  // The clients' sidecar logged them: proof the traffic went through it, not around it.
  assert.match(out, /clients sidecar.*"GET \/hello.txt HTTP\/1.1" 200 .*"curl\//);
  assert.match(out, /clients sidecar.*"GET \/hello.txt HTTP\/1.1" 200 .*"Python-urllib/);
  // The server's sidecar sees the call coming from the client's pod IP, not from 127.0.0.1.
  assert.match(out, /web sidecar .*inbound\|8000\|\| \S+ 127\.105\.1\.1:8000 127\.105\.1\.2:\d+ /);
});
