// One name resolved again and again: when (TTL or refresh rate), what changes, what a failure
// keeps. Time is stepped by hand through an injected scheduler; DNS is a fake, except one
// lookup of "localhost" through the real resolvers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HostnameResolution, refreshDelayMs, systemDnsLookup, type DnsAnswer, type Scheduler } from "./dns-resolver.ts";

/** A scheduler that only records: run() fires the pending callback, as if its delay had passed. */
function manualClock() {
  const pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: Scheduler = (fn, ms) => {
    const p = { fn, ms, cancelled: false };
    pending.push(p);
    return () => { p.cancelled = true; };
  };
  return {
    schedule,
    delays: () => pending.map((p) => p.ms),
    /** Fires the latest pending callback and waits for the lookup it starts to settle. */
    async tick(): Promise<void> {
      const p = pending.at(-1);
      assert.ok(p && !p.cancelled, "a lookup is scheduled");
      p.cancelled = true; // fired: no longer pending
      p.fn();
      await settle();
    },
    pendingLive: () => pending.filter((p) => !p.cancelled).length,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

/** A fake DNS whose next answers (or errors) the test queues. */
function fakeDns(...answers: (DnsAnswer | Error)[]) {
  const asked: string[] = [];
  return {
    asked,
    lookup: async (hostname: string): Promise<DnsAnswer> => {
      asked.push(hostname);
      const next = answers.shift();
      if (!next) throw Object.assign(new Error("no more answers"), { code: "ENOTFOUND" });
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

function resolution(lookup: (h: string) => Promise<DnsAnswer>, schedule: Scheduler, o: { refreshMs?: number; respectTtl?: boolean } = {}) {
  const changes: { addresses: readonly string[]; previous: readonly string[] | undefined }[] = [];
  const failures: { reason: string; kept: readonly string[] | undefined }[] = [];
  const r = new HostnameResolution({
    hostname: "api.partner.test",
    refreshMs: o.refreshMs ?? 5_000,
    respectTtl: o.respectTtl ?? true,
    lookup,
    schedule,
    onChange: (addresses, previous) => changes.push({ addresses, previous }),
    onFailure: (reason, kept) => failures.push({ reason, kept }),
  });
  return { r, changes, failures };
}

test("the wait before the next lookup: the TTL when respected, never below the refresh rate", () => {
  assert.equal(refreshDelayMs(5_000, true, 300), 300_000);
  assert.equal(refreshDelayMs(5_000, true, 1), 5_000, "a short TTL is floored at dns_refresh_rate");
  assert.equal(refreshDelayMs(5_000, true, 0), 5_000, "no TTL: the refresh rate");
  assert.equal(refreshDelayMs(5_000, false, 300), 5_000, "respect_dns_ttl off: the refresh rate");
  assert.equal(refreshDelayMs(60_000, true, 30), 60_000);
  assert.ok(refreshDelayMs(5_000, true, 10 ** 9) <= 2_147_483_647, "a huge TTL still fits a timer");
});

test("answers: the first sets the addresses, a changed one replaces them, an equal one is quiet", async () => {
  const clock = manualClock();
  const dns = fakeDns(
    { addresses: ["10.0.0.2", "10.0.0.1", "10.0.0.1"], ttlSeconds: 30 },
    { addresses: ["10.0.0.1", "10.0.0.2"], ttlSeconds: 2 },
    { addresses: ["10.0.0.3"], ttlSeconds: 600 },
  );
  const { r, changes } = resolution(dns.lookup, clock.schedule);
  r.start();
  await settle();
  assert.deepEqual(r.addresses, ["10.0.0.1", "10.0.0.2"], "sorted, without duplicates");
  assert.deepEqual(changes, [{ addresses: ["10.0.0.1", "10.0.0.2"], previous: undefined }]);
  assert.deepEqual(clock.delays(), [30_000], "next lookup after the TTL");
  await clock.tick();
  assert.equal(changes.length, 1, "the same set again is not a change");
  assert.deepEqual(clock.delays(), [30_000, 5_000], "TTL 2 s is floored at the 5 s refresh rate");
  await clock.tick();
  assert.deepEqual(changes[1], { addresses: ["10.0.0.3"], previous: ["10.0.0.1", "10.0.0.2"] });
  assert.deepEqual(clock.delays().at(-1), 600_000);
  assert.deepEqual(dns.asked, ["api.partner.test", "api.partner.test", "api.partner.test"]);
  r.stop();
  assert.equal(clock.pendingLive(), 0, "stop cancels the next lookup");
});

test("a failed or empty lookup keeps the last good addresses and retries at the refresh rate", async () => {
  const clock = manualClock();
  const dns = fakeDns(
    { addresses: ["10.0.0.1"], ttlSeconds: 300 },
    Object.assign(new Error("timeout"), { code: "ETIMEOUT" }),
    { addresses: [], ttlSeconds: 300 },
    { addresses: ["10.0.0.9"], ttlSeconds: 300 },
  );
  const { r, changes, failures } = resolution(dns.lookup, clock.schedule, { refreshMs: 2_000 });
  r.start();
  await settle();
  await clock.tick();
  assert.deepEqual(failures, [{ reason: "ETIMEOUT", kept: ["10.0.0.1"] }]);
  assert.deepEqual(r.addresses, ["10.0.0.1"]);
  assert.equal(clock.delays().at(-1), 2_000, "after a failure: the refresh rate, not the old TTL");
  await clock.tick();
  assert.equal(failures.length, 2);
  assert.match(failures[1].reason, /no IPv4 address/);
  assert.equal(r.failures, 2);
  assert.deepEqual(r.addresses, ["10.0.0.1"]);
  await clock.tick();
  assert.equal(r.failures, 0, "a good answer ends the streak");
  assert.deepEqual(changes.map((c) => c.addresses), [["10.0.0.1"], ["10.0.0.9"]]);
  r.stop();
});

test("a lookup that answers after stop() changes nothing and schedules nothing", async () => {
  const clock = manualClock();
  let release: (a: DnsAnswer) => void = () => {};
  const { r, changes } = resolution(() => new Promise<DnsAnswer>((res) => { release = res; }), clock.schedule);
  r.start();
  r.stop();
  release({ addresses: ["10.0.0.1"], ttlSeconds: 5 });
  await settle();
  assert.equal(r.addresses, undefined);
  assert.equal(changes.length, 0);
  assert.equal(clock.pendingLive(), 0);
});

test("the system lookup resolves localhost (not in DNS: through the system resolver)", async () => {
  const answer = await systemDnsLookup("localhost");
  assert.ok(answer.addresses.includes("127.0.0.1"), `localhost -> ${answer.addresses.join(", ")}`);
  assert.ok(answer.ttlSeconds >= 0);
});
