import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatB3Single, formatTraceparent, parseB3Single, parseTraceparent, readB3Multi, readW3c, writeB3Multi,
} from "./trace-context.ts";
import { decideSampling } from "./sampling.ts";
import { newSpanId, newTraceId } from "./span-ids.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

test("W3C traceparent: valid values, sampled flag, future versions", () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-00`), { traceId: TRACE, spanId: SPAN, sampled: false });
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled, true, "other flag bits do not hide the sampled bit");
  // A higher version is read by its first four fields; extra fields must follow a "-".
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseTraceparent(`  00-${TRACE}-${SPAN}-01 `), { traceId: TRACE, spanId: SPAN, sampled: true }, "surrounding spaces");
  assert.equal(formatTraceparent(TRACE, SPAN, true), `00-${TRACE}-${SPAN}-01`);
  assert.equal(formatTraceparent("a3ce929d0e0e4736", SPAN, false), `00-0000000000000000a3ce929d0e0e4736-${SPAN}-00`, "64-bit B3 ids are widened");
});

test("W3C traceparent: malformed values are ignored, never thrown", () => {
  for (const bad of [
    undefined, "", "garbage", `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${"0".repeat(32)}-${SPAN}-01`, `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero ids
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper case hex
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `01-${TRACE}-${SPAN}-01x`, `00-${TRACE.slice(1)}-${SPAN}-01`, `00_${TRACE}_${SPAN}_01`, `00-${TRACE}-${SPAN}-zz`,
    `0g-${TRACE}-${SPAN}-01`, "x".repeat(10_000),
  ]) {
    assert.equal(parseTraceparent(bad), undefined, String(bad).slice(0, 80));
  }
  assert.equal(readW3c({ tracestate: "a=b" }), undefined, "tracestate alone is no context");
  assert.deepEqual(readW3c({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "congo=t61rcWkgMzE" }), { traceId: TRACE, spanId: SPAN, sampled: true, traceState: "congo=t61rcWkgMzE" });
});

test("B3 multi headers: 64 and 128-bit ids, sampled forms, debug, decisions without ids, malformed", () => {
  assert.deepEqual(readB3Multi({ "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "1" }), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(readB3Multi({ "x-b3-traceid": "A3CE929D0E0E4736", "x-b3-spanid": SPAN }), { traceId: "a3ce929d0e0e4736", spanId: SPAN, sampled: undefined }, "no decision; ids are lower-cased");
  assert.deepEqual(readB3Multi({ "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "false" }), { traceId: TRACE, spanId: SPAN, sampled: false });
  assert.deepEqual(readB3Multi({ "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "0", "x-b3-flags": "1" }), { traceId: TRACE, spanId: SPAN, sampled: true, debug: true }, "debug wins");
  assert.deepEqual(readB3Multi({ "x-b3-sampled": "0" }), { decisionOnly: false });
  assert.equal(readB3Multi({}), undefined);
  for (const bad of [
    { "x-b3-traceid": TRACE }, { "x-b3-spanid": SPAN }, { "x-b3-traceid": "xyz", "x-b3-spanid": SPAN },
    { "x-b3-traceid": TRACE, "x-b3-spanid": "0000000000000000" }, { "x-b3-traceid": `${TRACE}00`, "x-b3-spanid": SPAN },
  ]) assert.equal(readB3Multi(bad), undefined, JSON.stringify(bad));
  const h: Record<string, string> = { "x-b3-parentspanid": "old" };
  writeB3Multi(h, TRACE, SPAN, undefined, false);
  assert.deepEqual(h, { "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "0" }, "a stale parent id is removed");
});

test("B3 single header: full, short, decision only, debug, malformed", () => {
  assert.deepEqual(parseB3Single(`${TRACE}-${SPAN}-1-05e3ac9a4f6e3b90`), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseB3Single(`${TRACE}-${SPAN}`), { traceId: TRACE, spanId: SPAN, sampled: undefined });
  assert.deepEqual(parseB3Single(`a3ce929d0e0e4736-${SPAN}-d`), { traceId: "a3ce929d0e0e4736", spanId: SPAN, sampled: true, debug: true });
  assert.deepEqual(parseB3Single("0"), { decisionOnly: false });
  assert.deepEqual(parseB3Single("d"), { decisionOnly: true });
  for (const bad of ["", "-", `${TRACE}-${SPAN}-2`, `${TRACE}-${SPAN}-1-zz`, `${TRACE}`, `${TRACE}-${SPAN}-1-${SPAN}-x`, `${"0".repeat(32)}-${SPAN}-1`]) {
    assert.equal(parseB3Single(bad), undefined, bad);
  }
  assert.equal(formatB3Single(TRACE, SPAN, false, "05e3ac9a4f6e3b90"), `${TRACE}-${SPAN}-0-05e3ac9a4f6e3b90`);
  assert.equal(formatB3Single(TRACE, SPAN, true, undefined, true), `${TRACE}-${SPAN}-d`);
});

test("ids are random lower-case hex of the right length", () => {
  const ids = new Set(Array.from({ length: 2000 }, () => newSpanId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
  assert.match(newTraceId(), /^[0-9a-f]{32}$/);
  assert.match(newTraceId(true), /^[0-9a-f]{16}$/);
});

test("sampling: the parent decides; else force-trace, client trace id, random, all capped by overall", () => {
  const all = { randomSampling: 100, clientSampling: 100, overallSampling: 100 };
  const none = { randomSampling: 0, clientSampling: 0, overallSampling: 100 };
  assert.deepEqual(decideSampling(false, {}, all), { sampled: false, reason: "not_sampled" }, "a parent's 0 wins over 100 %");
  assert.deepEqual(decideSampling(true, {}, none), { sampled: true, reason: "parent" });
  assert.deepEqual(decideSampling(undefined, { "x-envoy-force-trace": "true" }, none), { sampled: true, reason: "forced" });
  assert.deepEqual(decideSampling(undefined, { "x-client-trace-id": "abc" }, { ...none, clientSampling: 100 }), { sampled: true, reason: "client" });
  assert.deepEqual(decideSampling(undefined, {}, none), { sampled: false, reason: "not_sampled" });
  assert.deepEqual(decideSampling(undefined, {}, all), { sampled: true, reason: "random" });
  const half = { randomSampling: 50, clientSampling: 100, overallSampling: 100 };
  assert.equal(decideSampling(undefined, {}, half, () => 0.49).sampled, true);
  assert.equal(decideSampling(undefined, {}, half, () => 0.5).sampled, false);
  assert.equal(decideSampling(undefined, { "x-envoy-force-trace": "1" }, { ...all, overallSampling: 0 }).sampled, false, "overall caps forced traces too");
});
