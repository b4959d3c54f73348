// Name resolution on the Node and native hosts (issue 18): the names the core sends to are looked up
// without blocking the event loop, bounded and cached (host/shared/resolver.mjs, host/c/resolve.c;
// docs/CONFIG.md "Limits"). DNS here is only ever our own loopback server (tests/lib/dns-server.mjs),
// given as dns.servers: never the machine's resolver.
//
//   flood      a trusted source sends 1,000 INVITE/s to names a silent DNS server never answers, for
//              10 s; an OPTIONS to the server itself every 20 ms is answered, every one, p99 < 50 ms
//   resolves   a name the DNS server answers (A 127.0.0.9) gets the request delivered there; a second
//              request to it asks DNS no more (positive cache)
//   negative   a name answered NXDOMAIN is asked once (NAPTR, SRV, A: it has no port), however many
//              requests (and retransmissions) name it
//   in flight  20 sources x 4 new names: exactly limits.dnsInFlight names are asked, the rest dropped
//   per source one source's 12 new names: limits.dnsPerSource are asked; another source still gets its own
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { HOSTS, startServer } from "../integration/harness.mjs";
import { DnsServer } from "../lib/dns-server.mjs";
import { flood, stat, udp, invite } from "../lib/dns-flood.mjs";
import { LIMITS } from "../../host/firmware/abi.mjs";



/** The server's stats line after now (SIGUSR2). */
async function statsLine(srv) {
  const mark = srv.logs.length;
  srv.child.kill("SIGUSR2");
  return srv.waitFor((o) => o.msg === "stats" && srv.logs.indexOf(o) >= mark, 5000, "the stats line");
}

/** Distinct names among the DNS server's queries that pass `pred`. */
function names(dns, pred = () => true) {
  return new Set(dns.queries.filter(pred).map((q) => q.name));
}

async function server(host, dns, config = {}) {
  return startServer({
    host, trace: false, logLevel: "info", tcp: false,
    config: { access: { trusted: ["127.0.0.0/8"] }, dns: { servers: [dns.server], ...config.dns }, ...config.extra },
  });
}

for (const host of HOSTS) {
  test(`${host}: 1,000 requests/s naming hosts a silent DNS server never answers; every OPTIONS is answered, p99 < 50 ms`, { timeout: 60_000 }, async (t) => {
    const r = await flood({ host, secs: 10, rate: 1000, pingMs: 20 });
    const summary = JSON.stringify({ ...r, stats: undefined });
    t.diagnostic(`${r.sent} requests, ${r.queries} DNS queries; OPTIONS ${r.answered}/${r.pings} answered, p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; ` +
      `lookups ${r.stats?.dnsLookups}, dropped per source ${r.stats?.dnsDroppedPerSource}, in flight ${r.stats?.dnsInFlight}; RSS ${r.rssStartKb} -> ${r.rssEndKb} kB`);
    assert.ok(r.stats, `the server logged no stats line within 15 s (stalled): ${summary}`);
    assert.ok(r.sent >= 9000, `the flood sent ${r.sent} requests, wanted ~10,000`);
    assert.ok(r.pings >= 300, `only ${r.pings} OPTIONS were sent`);
    assert.equal(r.unanswered, 0, `unanswered OPTIONS: ${summary}`);
    assert.ok(r.p99 < 50, `OPTIONS p99 ${r.p99} ms: ${summary}`);
    assert.ok(stat(r.stats, "dnsInFlight") <= LIMITS.dnsInFlight, JSON.stringify(r.stats));
    assert.ok(stat(r.stats, "dnsDroppedPerSource") > 0, `the per-source bound never dropped: ${JSON.stringify(r.stats)}`);
    assert.ok(r.queries > 0, "the silent DNS server was never asked: the flood did not reach the resolver");
  });

  test(`${host}: a name the DNS server answers gets the request delivered; a second request asks DNS no more`, { timeout: 20_000 }, async () => {
    const dns = await DnsServer.open({ answers: { "sink.test": { a: ["127.0.0.9"], ttl: 60 } }, other: "nxdomain" });
    const sink = await udp("127.0.0.9");
    const got = [];
    sink.on("message", (m) => got.push(m.toString("latin1")));
    const alice = await udp("127.0.0.4");
    const srv = await server(host, dns);
    try {
      const ruri = `sip:bob@sink.test:${sink.address().port}`;
      const first = invite(srv, alice, "127.0.0.4", ruri);
      const second = await (async () => {
        for (let i = 0; i < 60 && !got.some((m) => m.includes(first)); i++) await sleep(50);
        return invite(srv, alice, "127.0.0.4", ruri);
      })();
      for (let i = 0; i < 60 && !got.some((m) => m.includes(second)); i++) await sleep(50);
      const firstAt = got.find((m) => m.includes(first));
      assert.ok(firstAt, `the sink at 127.0.0.9 got nothing for the first INVITE; DNS saw ${JSON.stringify(dns.queries)}`);
      assert.match(firstAt, /^INVITE sip:bob@sink\.test:\d+ SIP\/2\.0\r\n/);
      assert.ok(got.some((m) => m.includes(second)), "the sink got nothing for the second INVITE");
      assert.equal(dns.count("sink.test"), 1, `DNS queries for sink.test: ${JSON.stringify(dns.queries)}`);
      const st = await statsLine(srv);
      assert.equal(stat(st, "dnsAnswers"), 1);
      assert.ok(stat(st, "dnsCacheHits") >= 1, JSON.stringify(st));
    } finally {
      await srv.stop();
      sink.close();
      alice.close();
      dns.close();
    }
  });

  test(`${host}: a name answered NXDOMAIN is asked once (negative cache), whatever names it again`, { timeout: 20_000 }, async () => {
    const dns = await DnsServer.open({ other: "nxdomain" });
    const alice = await udp("127.0.0.4");
    const srv = await server(host, dns);
    try {
      for (let i = 0; i < 4; i++) {
        invite(srv, alice, "127.0.0.4", "sip:bob@gone.test");
        await sleep(300);
      }
      await sleep(1500); // the INVITEs' retransmissions (500 ms, 1 s, ...) meet the negative cache too
      // no port: one RFC 3263 lookup (NAPTR, SRV, then A of the name itself), each asked once
      const asked = (name, type) => dns.queries.filter((q) => q.name === name && q.type === type).length;
      const all = JSON.stringify(dns.queries);
      assert.equal(asked("gone.test", 35), 1, `NAPTR queries: ${all}`);
      assert.equal(asked("_sip._udp.gone.test", 33), 1, `SRV queries: ${all}`);
      assert.equal(asked("gone.test", "A"), 1, `A queries: ${all}`);
      assert.equal(dns.queries.length, 3, all);
      const st = await statsLine(srv);
      assert.equal(stat(st, "dnsFailures"), 1);
      assert.ok(stat(st, "dnsNegativeHits") >= 3, JSON.stringify(st));
      const warned = srv.logs.filter((o) => o.msg === "cannot resolve destination; dropped");
      assert.equal(warned.length, 1, `one warning per failed lookup: ${JSON.stringify(warned)}`);
      assert.equal(warned[0].name, "gone.test");
    } finally {
      await srv.stop();
      alice.close();
      dns.close();
    }
  });

  test(`${host}: lookups in flight stop at limits.dnsInFlight (${LIMITS.dnsInFlight}); the rest are dropped`, { timeout: 20_000 }, async () => {
    const dns = await DnsServer.open({ other: "silent" });
    const srv = await server(host, dns, { dns: { timeout: 10_000 } }); // nothing fails or is asked again meanwhile
    const socks = [];
    try {
      const perSource = LIMITS.dnsPerSource;
      const sources = Math.ceil(LIMITS.dnsInFlight / perSource) + 4; // 80 new names: 16 more than the bound
      for (let s = 0; s < sources; s++) socks.push(await udp(`127.0.0.${10 + s}`));
      for (let s = 0; s < sources; s++) {
        for (let k = 0; k < perSource; k++) invite(srv, socks[s], `127.0.0.${10 + s}`, `sip:bob@f${s}-${k}.test`);
      }
      for (let i = 0; i < 40 && names(dns).size < LIMITS.dnsInFlight; i++) await sleep(25);
      await sleep(300);
      assert.equal(names(dns).size, LIMITS.dnsInFlight, `distinct names asked of ${sources * perSource} sent`);
      const st = await statsLine(srv);
      assert.equal(stat(st, "dnsInFlight"), LIMITS.dnsInFlight);
      assert.equal(stat(st, "dnsLookups"), LIMITS.dnsInFlight);
      assert.ok(stat(st, "dnsDroppedInFlight") >= sources * perSource - LIMITS.dnsInFlight, JSON.stringify(st));
      assert.equal(stat(st, "dnsDroppedPerSource"), 0, JSON.stringify(st));
    } finally {
      await srv.stop();
      for (const s of socks) s.close();
      dns.close();
    }
  });

  test(`${host}: one source starts at most limits.dnsPerSource (${LIMITS.dnsPerSource}) lookups; another source still gets its own`, { timeout: 20_000 }, async () => {
    const dns = await DnsServer.open({ other: "silent" });
    const srv = await server(host, dns, { dns: { timeout: 10_000 } });
    const mallory = await udp("127.0.0.4");
    const bob = await udp("127.0.0.5");
    try {
      const t0 = Date.now();
      for (let k = 0; k < 12; k++) invite(srv, mallory, "127.0.0.4", `sip:x@m${k}.test`);
      await sleep(100);
      invite(srv, bob, "127.0.0.5", "sip:x@b0.test");
      invite(srv, bob, "127.0.0.5", "sip:x@b1.test");
      await sleep(300);
      // before the first retransmission (500 ms), whose lookups count against the core's timers
      const early = (q) => q.at - t0 < 450;
      const m = [...names(dns, early)].filter((n) => n.startsWith("m"));
      const b = [...names(dns, early)].filter((n) => n.startsWith("b"));
      assert.equal(m.length, LIMITS.dnsPerSource, `names of the first source asked: ${m}`);
      assert.deepEqual(b.sort(), ["b0.test", "b1.test"]);
      const st = await statsLine(srv);
      assert.ok(stat(st, "dnsDroppedPerSource") >= 12 - LIMITS.dnsPerSource, JSON.stringify(st));
      assert.equal(stat(st, "dnsDroppedInFlight"), 0, JSON.stringify(st));
    } finally {
      await srv.stop();
      mallory.close();
      bob.close();
      dns.close();
    }
  });
}
