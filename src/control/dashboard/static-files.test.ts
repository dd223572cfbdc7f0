import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NOT_BUILT_MESSAGE, contentTypeOf, resolveInside, serveStatic } from "./static-files.ts";

const root = mkdtempSync(join(tmpdir(), "mizzen-ui-"));
const dist = join(root, "dist");
mkdirSync(join(dist, "assets"), { recursive: true });
writeFileSync(join(dist, "index.html"), "<!doctype html><title>Mizzen</title>");
writeFileSync(join(dist, "assets", "app.js"), "console.log('hi')");
writeFileSync(join(root, "secret.txt"), "outside");
after(() => rmSync(root, { recursive: true, force: true }));

test("files of the build, with their content types", async () => {
  const index = await serveStatic(dist, "/dashboard/", "/dashboard/");
  assert.equal(index.status, undefined);
  assert.equal(index.contentType, "text/html; charset=utf-8");
  assert.equal(String(index.body), "<!doctype html><title>Mizzen</title>");
  const js = await serveStatic(dist, "/dashboard/", "/dashboard/assets/app.js");
  assert.equal(js.contentType, "text/javascript; charset=utf-8");
  assert.ok(Buffer.isBuffer(js.body));
  assert.equal(contentTypeOf("a.css"), "text/css; charset=utf-8");
  assert.equal(contentTypeOf("a.js.map"), "application/json; charset=utf-8");
  assert.equal(contentTypeOf("a.bin"), "application/octet-stream");
  assert.equal((await serveStatic(dist, "/dashboard/", "/dashboard/missing.js")).status, 404);
  assert.equal((await serveStatic(dist, "/dashboard/", "/dashboard/assets")).status, 404, "a folder is not a file");
});

test("no way out of the folder: .., encoded slashes, backslashes, absolute paths, NUL, bad escapes", async () => {
  for (const p of ["..%2fsecret.txt", "%2e%2e%2fsecret.txt", "assets/..%2f..%2fsecret.txt", "..%5csecret.txt", "%2fetc%2fpasswd", "a%00b", "%E0%A4%A", "./index.html"]) {
    assert.equal(resolveInside(dist, p), undefined, p);
    const r = await serveStatic(dist, "/dashboard/", `/dashboard/${p}`);
    assert.equal(r.status, 404, p);
    assert.ok(!String(r.body).includes("outside"));
  }
  assert.equal(resolveInside(dist, "assets%2Fapp.js"), join(dist, "assets", "app.js"), "an encoded slash inside the folder is fine");
});

test("without a build: 503 with the command that makes one", async () => {
  const r = await serveStatic(join(root, "nope"), "/dashboard/", "/dashboard/");
  assert.equal(r.status, 503);
  assert.ok(String(r.body).includes(NOT_BUILT_MESSAGE));
  assert.equal((await serveStatic(join(root, "nope"), "/dashboard/", "/dashboard/app.js")).status, 503);
});
