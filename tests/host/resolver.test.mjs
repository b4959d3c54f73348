// host/shared/resolver.mjs alone (the Node host's and the firmware bridge's resolver), with a fake DNS
// (lookups answered by the test) and a fake clock: the bounds and caches of docs/CONFIG.md "Limits"
// that the end-to-end tests (tests/hosts/dns.test.mjs) do not reach: messages held per name and in
// bytes, the cache's size and LRU order, TTLs clamped, a failure forgotten after dnsNegativeTtl, the
// hosts file, IP literals and names that cannot be host names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resolver, readHosts } from "../../host/shared/resolver.mjs";
import { LIMITS } from "../../host/firmware/abi.mjs";

const dir = mkdtempSync(join(tmpdir(), "sipling-resolver-"));
const noHosts = join(dir, "none");

/** A resolver over a fake DNS whose pending lookups the test answers; `sent` records deliveries. */
function make({ limits = LIMITS, hostsFile = noHosts } = {}) {
  const clock = { t: 1000 };
  const asked = [];
  const logs = [];
  const dns = {
    resolve4: (name, _o, cb) => asked.push({ name, type: "A", cb }),
    resolve6: (name, _o, cb) => asked.push({ name, type: "AAAA", cb }),
    cancel: () => {},
  };
  const r = new Resolver({ timeoutMs: 1000, limits, log: (level, msg, fields) => logs.push({ level, msg, ...fields }), hostsFile, dns, now: () => clock.t });
  const sent = [];
  const send = (name, bytes = 100, family = 4) => r.send(name, family, bytes, (fam, addr, later) => sent.push({ name, fam, addr, later }));
  const answer = (i, addr, ttl = 60) => asked[i].cb(null, [{ address: addr, ttl }]);
  const fail = (i, code = "ENOTFOUND") => asked[i].cb(Object.assign(new Error(code), { code }));
  return { r, clock, asked, logs, sent, send, answer, fail };
}

test("held messages: at most dnsWaitPerName per name, dnsWaitBytes in all; all go out on the answer", () => {
  const t = make({ limits: { ...LIMITS, dnsWaitBytes: 1000 } });
  for (let i = 0; i < LIMITS.dnsWaitPerName + 3; i++) t.send("a.test", 10);
  assert.equal(t.asked.length, 1, "one lookup per name");
  assert.equal(t.r.stats().dnsWaiting, LIMITS.dnsWaitPerName);
  assert.equal(t.r.stats().dnsDroppedWaiting, 3);
  t.send("b.test", 995); // 8 x 10 held: 995 more would pass 1000
  assert.equal(t.r.stats().dnsDroppedWaiting, 4);
  assert.equal(t.asked.length, 1, "no lookup for a message that cannot be held");
  t.answer(0, "127.0.0.9");
  assert.equal(t.sent.length, LIMITS.dnsWaitPerName);
  assert.ok(t.sent.every((s) => s.addr === "127.0.0.9" && s.fam === 4 && s.later));
  assert.equal(t.r.stats().dnsWaiting, 0);
  assert.equal(t.r.stats().dnsWaitingBytes, 0);
});

test("the cache: answers for their TTL clamped to dnsMinTtl..dnsMaxTtl, failures for dnsNegativeTtl", () => {
  const t = make();
  t.send("short.test");
  t.send("long.test");
  t.send("bad.test");
  t.answer(0, "127.0.0.1", 0); // TTL 0: kept dnsMinTtl
  t.answer(1, "127.0.0.2", 10 * LIMITS.dnsMaxTtl); // kept dnsMaxTtl
  t.fail(2);
  t.clock.t += LIMITS.dnsMinTtl * 1000 - 1;
  t.send("short.test");
  t.send("bad.test");
  assert.equal(t.asked.length, 3, "all three cached");
  assert.equal(t.r.stats().dnsNegativeHits, 1);
  t.clock.t += 2;
  t.send("short.test");
  assert.equal(t.asked.length, 4, "short.test asked again after dnsMinTtl");
  t.clock.t = 1000 + LIMITS.dnsNegativeTtl * 1000 + 1;
  t.send("bad.test");
  assert.equal(t.asked.at(-1).name, "bad.test", "bad.test asked again after dnsNegativeTtl");
  t.clock.t = 1000 + LIMITS.dnsMaxTtl * 1000 - 1;
  const before = t.asked.length;
  t.send("long.test");
  assert.equal(t.asked.length, before, "long.test still cached just before dnsMaxTtl");
  t.clock.t += 2;
  t.send("long.test");
  assert.equal(t.asked.length, before + 1, "long.test asked again after dnsMaxTtl");
  assert.equal(t.logs.filter((l) => l.msg === "cannot resolve destination; dropped").length, 1, "one warning per failed lookup");
});

test("the cache holds dnsCache names, the least recently used evicted first", () => {
  const limits = { ...LIMITS, dnsCache: 3, dnsPerSource: 100 };
  const t = make({ limits });
  for (const [i, n] of ["a", "b", "c"].entries()) {
    t.send(`${n}.test`);
    t.answer(i, `127.0.0.${i + 1}`);
  }
  t.send("a.test"); // a is now the most recently used
  t.send("d.test");
  t.answer(3, "127.0.0.4"); // evicts b
  assert.equal(t.r.stats().dnsCached, 3);
  t.send("a.test");
  t.send("c.test");
  t.send("d.test");
  assert.equal(t.asked.length, 4, "a, c and d cached");
  t.send("b.test");
  assert.equal(t.asked.length, 5, "b was evicted");
});

test("lookups: dnsInFlight at once, dnsPerSource per source; the core's timers are a source of their own", () => {
  const t = make({ limits: { ...LIMITS, dnsInFlight: 6 } });
  t.r.setSource("192.0.2.1");
  for (let i = 0; i < 10; i++) t.send(`s${i}.test`);
  assert.equal(t.asked.length, LIMITS.dnsPerSource);
  t.r.setSource("");
  for (let i = 0; i < 10; i++) t.send(`t${i}.test`);
  assert.equal(t.asked.length, 6, "the in-flight bound");
  assert.equal(t.r.stats().dnsDroppedPerSource, 10 - LIMITS.dnsPerSource);
  assert.equal(t.r.stats().dnsDroppedInFlight, 10 - 2);
  t.fail(0);
  t.r.setSource("192.0.2.1");
  t.send("s9.test");
  assert.equal(t.asked.at(-1).name, "s9.test", "a finished lookup frees its source's slot");
});

test("IP literals go out at once; bad names are dropped; names are compared without case or final dot", () => {
  const t = make();
  t.send("192.0.2.7");
  t.send("[2001:db8::1]", 100, 6);
  assert.deepEqual(t.sent.map((s) => [s.fam, s.addr, s.later]), [[4, "192.0.2.7", false], [6, "2001:db8::1", false]]);
  t.send("");
  t.send("x".repeat(254));
  assert.equal(t.r.stats().dnsDroppedName, 2);
  t.send("Host.Test.");
  t.send("host.test");
  assert.equal(t.asked.length, 1);
  assert.equal(t.asked[0].name, "host.test");
  t.send("host.test", 100, 6);
  assert.equal(t.asked[1].type, "AAAA", "each family is its own lookup");
});

test("the hosts file answers without DNS; readHosts takes the first address of each family", () => {
  const f = join(dir, "hosts");
  writeFileSync(f, "# comment\n127.0.0.5 box box.local # trailing\n127.0.0.6 box\n::1 box\nnot-an-ip other\n");
  assert.deepEqual(Object.fromEntries(readHosts(f)), { box: { v4: "127.0.0.5", v6: "::1" }, "box.local": { v4: "127.0.0.5" } });
  const t = make({ hostsFile: f });
  t.send("BOX");
  t.send("box.local", 100, 6);
  assert.deepEqual(t.sent.map((s) => [s.fam, s.addr]), [[4, "127.0.0.5"]]);
  assert.equal(t.asked.length, 1, "box.local has no IPv6 address in the file: asked of DNS");
  assert.equal(t.asked[0].type, "AAAA");
});

test("close(): nothing is sent afterwards", () => {
  const t = make();
  t.send("late.test");
  t.r.close();
  t.answer(0, "127.0.0.9");
  t.send("192.0.2.1");
  assert.deepEqual(t.sent, []);
});
