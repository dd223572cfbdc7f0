import { test } from "node:test";
import assert from "node:assert/strict";
import { lookupMessage } from "./protos.ts";
import { decodeResponse, type DiscoveryResponseMessage } from "./ads-service.ts";
import { encodeDiscoveryResponse } from "./response-wire.ts";

// protobufjs is the reference: the hand encoder must write the very same bytes.
function reference(res: DiscoveryResponseMessage): Buffer {
  const type = lookupMessage("envoy.service.discovery.v3.DiscoveryResponse");
  return Buffer.from(type.encode(type.fromObject(res)).finish());
}

const ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff); // lengths with 3-byte varints

const cases: [string, DiscoveryResponseMessage][] = [
  ["typical", { version_info: "0123abcd", type_url: ROUTE, nonce: "17", resources: [{ type_url: ROUTE, value: new Uint8Array([10, 3, 56, 48, 56]) }], control_plane: { identifier: "mizzen-control" } }],
  ["no resources", { version_info: "v", type_url: ROUTE, nonce: "1", resources: [] }],
  ["large and several", { version_info: "x", type_url: ROUTE, nonce: "99", resources: [{ type_url: ROUTE, value: big }, { type_url: ROUTE, value: new Uint8Array(200) }, { type_url: ROUTE, value: new Uint8Array(127) }, { type_url: ROUTE, value: new Uint8Array(128) }] }],
  ["non-ASCII", { version_info: "värsion", type_url: ROUTE, nonce: "ñ", resources: [{ type_url: ROUTE, value: new Uint8Array([1]) }], control_plane: { identifier: "控制" } }],
];

for (const [name, res] of cases) {
  test(`DiscoveryResponse written by hand equals protobufjs's bytes: ${name}`, () => {
    const mine = encodeDiscoveryResponse(res);
    assert.deepEqual(mine, reference(res));
    const back = decodeResponse(mine);
    assert.equal(back.version_info, res.version_info);
    assert.equal(back.nonce, res.nonce);
    assert.equal(back.resources.length, res.resources.length);
    res.resources.forEach((r, i) => assert.deepEqual(Buffer.from(back.resources[i]!.value), Buffer.from(r.value)));
  });
}

test("empty strings are left out, as proto3 does, and still decode to empty", () => {
  const res: DiscoveryResponseMessage = { version_info: "", type_url: ROUTE, nonce: "", resources: [], control_plane: { identifier: "" } };
  const back = decodeResponse(encodeDiscoveryResponse(res));
  assert.equal(back.version_info, "");
  assert.equal(back.nonce, "");
  assert.equal(back.type_url, ROUTE);
});

test("one resource list shared by many responses is encoded once and reused", () => {
  const resources = [{ type_url: ROUTE, value: big }];
  const a = encodeDiscoveryResponse({ version_info: "1", type_url: ROUTE, nonce: "1", resources });
  const b = encodeDiscoveryResponse({ version_info: "1", type_url: ROUTE, nonce: "2", resources });
  assert.equal(a.length, b.length);
  assert.deepEqual(decodeResponse(b).resources[0]!.value.length, big.length);
  assert.notDeepEqual(a, b); // only the nonce differs
});
