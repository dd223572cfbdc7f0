import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMtlsMarkdown, summariseSamples, type MtlsBenchResult, type Sample, type Security, type TestKind } from "./mtls-report.ts";

function sample(round: number, security: Security, test: TestKind, o: { rps: number; p50: number; cpuA: number; cpuB: number; conns: number; hs: number }): Sample {
  const requests = o.rps * 10;
  return {
    round, security, test, requests, requestsPerS: o.rps,
    latency: { p50Ms: o.p50, p90Ms: o.p50 * 2, p99Ms: o.p50 * 4, maxMs: o.p50 * 10, meanMs: o.p50 },
    ...(test !== "throughput" ? { corrected: { p50Ms: o.p50 + 0.5, p90Ms: o.p50 * 2, p99Ms: o.p50 * 5, maxMs: o.p50 * 20, meanMs: o.p50 } } : {}),
    errors: 0,
    cpuMsPer1000: { "client sidecar": o.cpuA, "server sidecar": o.cpuB, upstream: 10 },
    connectionsAtoB: o.conns, handshakes: o.hs, client5xx: 0,
  };
}

/** Two rounds; mTLS costs 10 µs (A) and 5 µs (B) per request on keep-alive, and handshakes 300 / 200 µs. */
function healthySamples(): Sample[] {
  const out: Sample[] = [];
  for (const round of [1, 2]) {
    const jitter = round === 1 ? 0 : 100;
    out.push(sample(round, "plaintext", "throughput", { rps: 10_000 + jitter, p50: 1, cpuA: 60, cpuB: 60, conns: 0, hs: 0 }));
    out.push(sample(round, "mtls", "throughput", { rps: 8_000 + jitter, p50: 1.2, cpuA: 70, cpuB: 65, conns: 16, hs: 16 }));
    out.push(sample(round, "plaintext", "constant-rate", { rps: 1000, p50: 0.8, cpuA: 100, cpuB: 100, conns: 0, hs: 0 }));
    out.push(sample(round, "mtls", "constant-rate", { rps: 1000, p50: 0.9, cpuA: 110, cpuB: 105, conns: 0, hs: 0 }));
    out.push(sample(round, "plaintext", "new-connection", { rps: 3000, p50: 4, cpuA: 200, cpuB: 150, conns: 30_000, hs: 0 }));
    // every request a handshake: extra per request = keep-alive extra + one handshake
    out.push(sample(round, "mtls", "new-connection", { rps: 1000, p50: 12, cpuA: 200 + 10 + 300, cpuB: 150 + 5 + 200, conns: 10_000, hs: 10_000 }));
  }
  return out;
}

test("averages over rounds, mTLS / plaintext ratios and added CPU per request", () => {
  const s = summariseSamples(healthySamples());
  assert.deepEqual(s.comparisons.map((c) => c.test), ["throughput", "constant-rate", "new-connection"]);
  const keep = s.comparisons[0]!;
  assert.equal(keep.plaintext.requestsPerS, 10_050);
  assert.deepEqual(keep.plaintext.requestsPerSRange, [10_000, 10_100]);
  assert.equal(keep.ratio.requestsPerS, 8_050 / 10_050);
  assert.equal(keep.added.cpuUsPerRequest["client sidecar"], 10);
  assert.equal(keep.added.cpuUsPerRequest["server sidecar"], 5);
  assert.ok(Math.abs(keep.added.p50Ms - 0.2) < 1e-9);
  assert.equal(keep.mtls.handshakesPer1000, (16 / 80 + 16 / 81) / 2); // per round, then the mean
  const rate = s.comparisons[1]!;
  assert.equal(rate.mtls.corrected!.p50Ms, 1.4);
  assert.deepEqual(s.handshakeCpuUs, { "client sidecar": 300, "server sidecar": 200, upstream: 0 });
  assert.deepEqual(s.findings, []);
});

test("keep-alive runs whose mTLS connections are not reused are reported, and no handshake cost is derived from them", () => {
  const samples = healthySamples().map((x) => (x.security === "mtls" && x.test !== "new-connection" ? { ...x, connectionsAtoB: x.requests, handshakes: x.requests } : x));
  const s = summariseSamples(samples);
  assert.equal(s.handshakeCpuUs, undefined);
  assert.equal(s.findings.length, 2);
  assert.match(s.findings[0]!, /^throughput: .* opened 1000 connections .* does not reuse/);
});

test("a constant-rate run that fell behind its rate, or had errors, is reported", () => {
  const samples = healthySamples().map((x) => (x.security === "mtls" && x.test === "constant-rate" ? { ...x, requestsPerS: 400, errors: 7 } : x));
  assert.deepEqual(summariseSamples(samples, { "constant-rate": 1000, "new-connection": 100 }).findings, [
    "constant-rate: mTLS did not keep up with 1000 req/s (400 req/s answered, 14 errors or timeouts): its latency measures a queue, not a request.",
  ]);
  assert.deepEqual(summariseSamples(healthySamples(), { "constant-rate": 1000, "new-connection": 100 }).findings, []);
});

test("the markdown has the machine, one table per test with the ratio row, every run, and how to reproduce", () => {
  const samples = healthySamples();
  const r: MtlsBenchResult = {
    machine: { date: "d", nproc: 2, cpu: "cpu", node: "v24", wrk: "wrk 4", kernel: "k", loadStart: 0.5, loadEnd: 1 },
    config: { rounds: 2, threads: 2, connections: 16, warmupS: 2, durationS: 10, rate: 1000, rateDurationS: 10, newConnectionRate: 100, newConnectionDurationS: 10, bodyBytes: 1024, clientRestartedOnSecurityChange: "reason" },
    summary: summariseSamples(samples),
    samples,
    elapsedS: 100,
  };
  const md = formatMtlsMarkdown(r);
  assert.match(md, /\| plaintext \| 10,050 \| 10,000-10,100 \| 1\.00 \|/);
  assert.match(md, /\| mTLS \/ plaintext \| 0\.80 \|/);
  assert.match(md, /constant 1,000 req\/s/);
  assert.match(md, /One mTLS handshake\*\* costs about 300 µs of CPU in sidecar A and 200 µs in sidecar B/);
  assert.equal(md.split("\n").filter((l) => /^\| [12] \| (plaintext|mtls) \|/.test(l)).length, samples.length);
  assert.match(md, /npx node bench\/mtls\.ts/);
});
