// host/shared/resolver.mjs alone (the Node host's and the firmware bridge's resolver), with a fake DNS
// (lookups answered by the test) and a fake clock: the bounds and caches of docs/CONFIG.md "Limits"
// that the end-to-end tests (tests/hosts/dns.test.mjs) do not reach: messages held per name and in
// bytes, the cache's size and LRU order, TTLs clamped, a failure forgotten after dnsNegativeTtl, the
// hosts file, IP literals and names that cannot be host names; the RFC 3263 procedure of a name sent
// without a port (NAPTR, SRV, the targets' addresses, RFC 2782's order), against the same fake DNS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resolver, readHosts, srvOrder, seeded } from "../../host/shared/resolver.mjs";
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
    resolveNaptr: (name, cb) => asked.push({ name, type: "NAPTR", cb }),
    resolveSrv: (name, cb) => asked.push({ name, type: "SRV", cb }),
    cancel: () => {},
  };
  const r = new Resolver({ timeoutMs: 1000, limits, log: (level, msg, fields) => logs.push({ level, msg, ...fields }), hostsFile, dns, now: () => clock.t });
  const sent = [];
  const send = (name, bytes = 100, family = 4) => r.send(name, family, bytes, (fam, addr, later) => sent.push({ name, fam, addr, later }));
  /** A message to `name` with no port, on protocol `proto` (1 UDP, 2 TCP, 3 TLS), wanting target k. */
  const locate = (name, proto = 1, k = 0, family = 4) => r.send(name, family, 100, (fam, addr, later, port) => sent.push({ name, fam, addr, later, port }), proto, k);
  const answer = (i, addr, ttl = 60) => asked[i].cb(null, [{ address: addr, ttl }]);
  const fail = (i, code = "ENOTFOUND") => asked[i].cb(Object.assign(new Error(code), { code }));
  /** The pending query of `name` and `type` (the last one asked). */
  const q = (name, type) => {
    const e = asked.findLast((a) => a.name === name && a.type === type);
    assert.ok(e, `no ${type} query for ${name}; asked ${JSON.stringify(asked.map((a) => `${a.type} ${a.name}`))}`);
    return e;
  };
  return { r, clock, asked, logs, sent, send, locate, answer, fail, q };
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

const nodata = () => Object.assign(new Error("ENODATA"), { code: "ENODATA" });
const srv = (name, port, priority = 10, weight = 0) => ({ name, port, priority, weight });
const naptr = (service, replacement, order = 10, preference = 10) => ({ flags: "S", service, regexp: "", replacement, order, preference });

test("RFC 3263 without NAPTR: _sip._udp SRV, each target's A; an SRV-only name (no A of its own) is never asked for one", () => {
  const t = make();
  t.locate("srvonly.test");
  t.q("srvonly.test", "NAPTR").cb(nodata());
  t.q("_sip._udp.srvonly.test", "SRV").cb(null, [srv("b.test", 5072, 20), srv("a.test", 5071, 10)]);
  t.q("a.test", "A").cb(null, [{ address: "127.0.0.2", ttl: 60 }]);
  assert.equal(t.sent.length, 0, "sent before every target's address is known");
  t.q("b.test", "A").cb(null, [{ address: "127.0.0.3", ttl: 60 }]);
  assert.deepEqual(t.sent, [{ name: "srvonly.test", fam: 4, addr: "127.0.0.2", later: true, port: 5071 }]);
  assert.ok(!t.asked.some((a) => a.name === "srvonly.test" && a.type === "A"), "the name's own A was asked");
  t.locate("srvonly.test", 1, 1); // the second target: priority 20
  t.locate("srvonly.test", 1, 2); // there is no third: dropped
  assert.deepEqual(t.sent.slice(1).map((s) => [s.addr, s.port]), [["127.0.0.3", 5072]]);
  assert.equal(t.r.stats().dnsDroppedNoTarget, 1);
  assert.equal(t.r.stats().dnsLookups, 1, "one lookup (NAPTR, SRV, the A records) for the name");
});

test("RFC 3263 without NAPTR or SRV: the name's own A on 5060, 5061 for TLS (_sips._tcp)", () => {
  const t = make();
  t.locate("plain.test", 1);
  t.locate("plain.test", 3);
  t.asked[0].cb(nodata()); // the UDP lookup's NAPTR
  t.asked[1].cb(nodata()); // the TLS lookup's
  t.q("_sip._udp.plain.test", "SRV").cb(nodata());
  t.q("_sips._tcp.plain.test", "SRV").cb(nodata());
  t.asked.filter((a) => a.type === "A").forEach((a) => a.cb(null, [{ address: "127.0.0.7", ttl: 60 }]));
  assert.deepEqual(t.sent.map((s) => s.port).sort(), [5060, 5061]);
});

test("NAPTR: the records of the message's transport, by order then preference, give the SRV name", () => {
  const t = make();
  t.locate("n.test", 2); // TCP
  t.locate("n.test", 1); // UDP: a lookup of its own
  const recs = [naptr("SIP+D2U", "_sip._udp.u.test"), naptr("SIP+D2T", "_sip._tcp.late.test", 20), naptr("SIP+D2T", "_sip._tcp.second.test", 10, 20),
    naptr("SIP+D2T", "_sip._tcp.t.test", 10, 10), naptr("SIPS+D2T", "_sips._tcp.s.test", 1)];
  t.asked.filter((a) => a.type === "NAPTR").forEach((a) => a.cb(null, recs));
  assert.deepEqual(t.asked.filter((a) => a.type === "SRV").map((a) => a.name), ["_sip._tcp.t.test", "_sip._udp.u.test"]);
  t.q("_sip._tcp.t.test", "SRV").cb(nodata()); // none there: the next NAPTR record's
  t.q("_sip._tcp.second.test", "SRV").cb(null, [srv("tcp.test", 5080)]);
  t.q("_sip._udp.u.test", "SRV").cb(null, [srv("udp.test", 5090)]);
  t.q("tcp.test", "A").cb(null, [{ address: "127.0.0.2", ttl: 60 }]);
  t.q("udp.test", "A").cb(null, [{ address: "127.0.0.3", ttl: 60 }]);
  assert.deepEqual(t.sent.map((s) => [s.addr, s.port]).sort(), [["127.0.0.2", 5080], ["127.0.0.3", 5090]]);
});

test("RFC 3263 entries: kept for the shortest A TTL (clamped), dnsTargets targets at most, a failure negative-cached", () => {
  const t = make();
  t.locate("ttl.test");
  t.q("ttl.test", "NAPTR").cb(nodata());
  const many = Array.from({ length: LIMITS.dnsTargets + 2 }, (_, i) => srv(`t${i}.test`, 5060 + i, 10 + i));
  t.q("_sip._udp.ttl.test", "SRV").cb(null, many);
  const as = t.asked.filter((a) => a.type === "A");
  assert.equal(as.length, LIMITS.dnsTargets, "A asked of the dnsTargets first targets only");
  as.forEach((a, i) => a.cb(null, [{ address: `127.0.0.${i + 2}`, ttl: i === 1 ? 20 : 300 }]));
  const n = t.asked.length;
  t.clock.t += 20_000 - 1;
  t.locate("ttl.test");
  assert.equal(t.asked.length, n, "cached within the shortest TTL");
  t.clock.t += 2;
  t.locate("ttl.test");
  assert.equal(t.asked.at(-1).type, "NAPTR", "asked again once the shortest TTL is over");
  t.locate("dead.test");
  t.q("dead.test", "NAPTR").cb(nodata());
  t.q("_sip._udp.dead.test", "SRV").cb(null, [srv("x.test", 5060)]);
  t.q("x.test", "A").cb(nodata());
  const m = t.asked.length;
  t.locate("dead.test");
  assert.equal(t.asked.length, m, "negative-cached");
  assert.equal(t.r.stats().dnsNegativeHits, 1);
});

test("srvOrder (RFC 2782): priorities in order; within one, weights 3:1 share the first place 75/25 (20,000 draws)", () => {
  const targets = [srv("low", 1, 10, 1), srv("high", 2, 10, 3), srv("backup", 3, 20, 100)];
  const N = 20_000;
  let high = 0;
  for (let i = 0; i < N; i++) {
    const o = srvOrder(targets, Math.random);
    assert.equal(o[2].name, "backup", "a higher priority number came before a lower one");
    if (o[0].name === "high") high++;
  }
  // shares follow the weights (resolver.mjs: the draw is 1..total): 3/4, sd ~0.003 at N = 20,000
  const share = high / N;
  console.log(`weight 3 of 3:1 first in ${high} of ${N} (${(share * 100).toFixed(1)}%)`);
  assert.ok(Math.abs(share - 0.75) < 0.015, `share ${share}`);
  const zero = [srv("z", 1, 10, 0), srv("w", 2, 10, 5)];
  for (let i = 0; i < 1000; i++) assert.equal(srvOrder(zero, Math.random)[0].name, "w", "a weight-0 target before a weighted one");
  let first = 0;
  for (let i = 0; i < 6000; i++) if (srvOrder([srv("a", 1, 10, 0), srv("b", 2, 10, 0)], Math.random)[0].name === "a") first++;
  assert.ok(Math.abs(first / 6000 - 0.5) < 0.03, `weight 0 alone: "a" first in ${first} of 6000`);
});

test("seeded orders: one seed, one order (a request's messages and its failover branches agree); 20,000 seeds share 3:1", () => {
  const targets = [srv("low", 1, 10, 1), srv("high", 2, 10, 3), srv("backup", 3, 20, 5)];
  let high = 0;
  for (let seed = 0; seed < 20_000; seed++) {
    const a = srvOrder(targets, seeded(seed)).map((x) => x.name);
    assert.deepEqual(srvOrder(targets, seeded(seed)).map((x) => x.name), a, `seed ${seed} drew two orders`);
    if (a[0] === "high") high++;
  }
  console.log(`seeded: weight 3 of 3:1 first for ${high} of 20000 seeds`);
  assert.ok(Math.abs(high / 20_000 - 0.75) < 0.015, `${high}`);
});

test("RFC 3263 on an IPv6 transport: the SRV targets' AAAA, never their A", () => {
  const t = make();
  t.locate("six.test", 2, 0, 6);
  t.q("six.test", "NAPTR").cb(nodata());
  t.q("_sip._tcp.six.test", "SRV").cb(null, [srv("v6.test", 5062)]);
  t.q("v6.test", "AAAA").cb(null, [{ address: "::1", ttl: 60 }]);
  assert.deepEqual(t.sent, [{ name: "six.test", fam: 6, addr: "::1", later: true, port: 5062 }]);
  assert.ok(!t.asked.some((a) => a.type === "A"), JSON.stringify(t.asked.map((a) => `${a.type} ${a.name}`)));
});

test("RFC 3263 for a name of the hosts file: its address on the default port, no NAPTR or SRV asked", () => {
  const f = join(dir, "hosts-srv");
  writeFileSync(f, "127.0.0.5 box\n");
  const t = make({ hostsFile: f });
  t.locate("box", 1);
  t.locate("box", 3);
  assert.deepEqual(t.sent.map((s) => [s.addr, s.port, s.later]), [["127.0.0.5", 5060, false], ["127.0.0.5", 5061, false]]);
  assert.deepEqual(t.asked, []);
});

test("RFC 3263 §4.1's transport of a name (transportOf): NAPTR of a supported service by order and preference, else the first supported SRV name, else 0", () => {
  const naptr = (service, order, preference) => ({ flags: "s", service, replacement: `_x.${service}.carrier.test`, order, preference, regexp: "" });
  const run = (supported, answer) => {
    const t = make();
    let got = null;
    t.r.transportOf("Carrier.Test.", supported, (p) => (got = p));
    answer(t);
    return { got, asked: t.asked.map((a) => `${a.type} ${a.name}`) };
  };
  // NAPTR: the lowest order, then preference, among what we listen on
  const all = [naptr("SIPS+D2T", 10, 5), naptr("SIP+D2T", 10, 10), naptr("SIP+D2U", 20, 1)];
  assert.equal(run([1, 2, 3], (t) => t.q("carrier.test", "NAPTR").cb(null, all)).got, 3, "TLS: order 10, preference 5");
  assert.equal(run([1, 2], (t) => t.q("carrier.test", "NAPTR").cb(null, all)).got, 2, "no TLS listener: TCP");
  assert.equal(run([1], (t) => t.q("carrier.test", "NAPTR").cb(null, all)).got, 1, "UDP only");
  assert.equal(run([1, 2], (t) => t.q("carrier.test", "NAPTR").cb(null, [{ ...naptr("SIP+D2T", 1, 1), flags: "a" }, naptr("SIP+D2U", 5, 5)])).got, 1,
    "a record without flag s is not for SIP");
  // no NAPTR: SRV names in the order UDP, TCP, TLS, the first that has records
  const srvOnly = run([1, 2, 3], (t) => {
    t.q("carrier.test", "NAPTR").cb(Object.assign(new Error("ENODATA"), { code: "ENODATA" }));
    t.q("_sip._udp.carrier.test", "SRV").cb(null, [{ name: ".", port: 0, priority: 0, weight: 0 }]);
    t.q("_sip._tcp.carrier.test", "SRV").cb(null, [{ name: "sbc.carrier.test", port: 5060, priority: 10, weight: 1 }]);
  });
  assert.equal(srvOnly.got, 2, "UDP's SRV says no service ('.'): TCP's has records");
  assert.deepEqual(srvOnly.asked, ["NAPTR carrier.test", "SRV _sip._udp.carrier.test", "SRV _sip._tcp.carrier.test"]);
  const nothing = run([1, 3], (t) => {
    t.q("carrier.test", "NAPTR").cb(null, []);
    t.q("_sip._udp.carrier.test", "SRV").cb(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" }));
    t.q("_sips._tcp.carrier.test", "SRV").cb(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" }));
  });
  assert.deepEqual([nothing.got, nothing.asked], [0, ["NAPTR carrier.test", "SRV _sip._udp.carrier.test", "SRV _sips._tcp.carrier.test"]], "neither: 0 (UDP to its address)");
  // an IP address, nothing supported: 0 without asking
  assert.deepEqual(run([1, 2], () => {}), { got: null, asked: ["NAPTR carrier.test"] }, "(pending until DNS answers)");
  const t = make();
  let got = null;
  t.r.transportOf("192.0.2.1", [1, 2], (p) => (got = p));
  assert.equal(got, 0);
  assert.equal(t.asked.length, 0);
});

test("the proxy's requests to names (transportAsk, transportCached): one question per name, its answer kept dnsTransportTtl; bounded waiters and names; no question for an address or the hosts file", async () => {
  const tick = () => new Promise((res) => setImmediate(res));
  const naptr = (service, order) => ({ flags: "s", service, replacement: `_x.${service}.n.test`, order, preference: 1, regexp: "" });
  const t = make({ limits: { ...LIMITS, dnsInFlight: 2 } });
  const got = [];
  assert.equal(t.r.transportCached("n.test"), -1, "nothing known yet");
  assert.ok(t.r.transportAsk("N.test.", [1, 2], (p) => got.push(["a", p])));
  assert.ok(t.r.transportAsk("n.test", [1, 2], (p) => got.push(["b", p])), "a second request for the name waits for the same answer");
  for (let i = 2; i < LIMITS.dnsWaitPerName; i++) assert.ok(t.r.transportAsk("n.test", [1, 2], () => {}));
  assert.equal(t.r.transportAsk("n.test", [1, 2], () => got.push(["over", 0])), false, "dnsWaitPerName waiting: the next is not asked");
  assert.deepEqual(t.asked.map((a) => `${a.type} ${a.name}`), ["NAPTR n.test"], "one question");
  assert.ok(t.r.transportAsk("m.test", [1, 2], () => {}), "a second name");
  assert.equal(t.r.transportAsk("o.test", [1, 2], () => {}), false, "dnsInFlight (2 here) names being asked: the next is not asked");
  t.q("n.test", "NAPTR").cb(null, [naptr("SIP+D2U", 20), naptr("SIP+D2T", 10)]);
  assert.deepEqual(got, [["a", 2], ["b", 2]], "both waiters get TCP (order 10)");
  assert.equal(t.r.transportCached("N.TEST"), 2, "kept");
  // the location that follows asks DNS nothing within dnsMinTtl: the NAPTR answer is shared
  const asked = t.asked.length;
  t.locate("n.test", 2);
  await tick();
  assert.equal(t.asked.length, asked + 1, `only the SRV name is asked: ${JSON.stringify(t.asked.slice(asked).map((a) => `${a.type} ${a.name}`))}`);
  assert.equal(t.asked.at(-1).name, "_x.sip+d2t.n.test");
  t.clock.t += LIMITS.dnsTransportTtl * 1000 - 1;
  assert.equal(t.r.transportCached("n.test"), 2);
  t.clock.t += 2;
  assert.equal(t.r.transportCached("n.test"), -1, "forgotten after dnsTransportTtl");
  // a question is a lookup in flight: dnsPerSource per source, dnsInFlight in all (with send()'s)
  const p = make();
  p.r.setSource("127.0.0.7");
  for (let i = 0; i < LIMITS.dnsPerSource; i++) assert.ok(p.r.transportAsk(`s${i}.test`, [1], () => {}));
  assert.equal(p.r.transportAsk("one-more.test", [1], () => {}), false, "dnsPerSource of one source");
  p.send("one-more.test");
  assert.equal(p.r.stats().dnsDroppedPerSource, 1, "and its message to the name meets the same bound");
  p.r.setSource("127.0.0.8");
  assert.ok(p.r.transportAsk("other.test", [1], () => {}), "another source still asks");
  assert.equal(p.r.stats().dnsInFlight, LIMITS.dnsPerSource + 1);
  // DNS failing on the NAPTR question (a timeout): 0 at once, no SRV question after it
  let timedOut = null;
  p.q("other.test", "NAPTR").cb(Object.assign(new Error("ETIMEOUT"), { code: "ETIMEOUT" }));
  assert.equal(p.asked.filter((a) => a.type === "SRV").length, 0);
  await tick();
  assert.ok(p.r.transportAsk("late.test", [1], (x) => (timedOut = x)));
  p.q("late.test", "NAPTR").cb(Object.assign(new Error("ETIMEOUT"), { code: "ETIMEOUT" }));
  assert.equal(timedOut, 0);
  assert.equal(p.asked.filter((a) => a.type === "SRV").length, 0, "no SRV question after a NAPTR timeout");
  assert.equal(p.r.stats().dnsInFlight, LIMITS.dnsPerSource, "the answered questions are no longer in flight");
  // an IP address, a name of the hosts file, or no transport of ours with a NAPTR service: not asked
  const hosts = join(dir, "hosts-ask");
  writeFileSync(hosts, "127.0.0.1 localhost\n");
  const h = make({ hostsFile: hosts });
  assert.equal(h.r.transportAsk("192.0.2.1", [1, 2], () => {}), false);
  assert.equal(h.r.transportAsk("localhost", [1, 2], () => {}), false);
  assert.equal(h.r.transportAsk("x.test", [5, 6], () => {}), false);
  assert.equal(h.asked.length, 0);
});
