// RFC 3263 (locating SIP servers) on the Node and native hosts, issue 13 item 6: a Request-URI whose
// host is a name with no port goes out with port 0 (docs/ABI.md "Peer record"), and the host finds
// the server by NAPTR, SRV and the targets' addresses (host/shared/resolver.mjs, host/c/resolve.c).
// The DNS server is a real one, dnsmasq from Debian (tests/lib/dnsmasq.mjs), on loopback with only
// the test's records (--no-resolv --no-hosts); the SIP servers are the test's UDP/TCP sockets on
// 127.0.0.x.
//
//   SRV-only     a name with SRV records and no address record of its own: delivered to the
//                priority-10 target's address and port; the priority-20 one gets nothing; a URI with
//                an explicit port asks A only
//   weights      400 calls to a name with targets of weights 3 and 1 (one priority): each target's
//                share within 0.09 of 3/4 (about 4 standard deviations); every message of a call
//                (the retransmissions) to one target
//   NAPTR        a name whose NAPTR records point UDP and TCP at different SRV names: a UDP call
//                goes to the UDP one's target, a ;transport=tcp call over TCP to the TCP one's
//   transport    a name whose NAPTR records prefer TCP: a call to it without ;transport waits for
//                the host's choice (docs/ABI.md "Transport by DNS") and goes over TCP to the TCP
//                one's target; two calls ask DNS its NAPTR once (the choice kept dnsTransportTtl, the
//                records shared for dnsMinTtl); a server not listening on TCP sends it over UDP
//   hosts file   localhost (in /etc/hosts) without a port: 127.0.0.1:5060, DNS asked nothing
//   TTL          records with TTL 1 s are kept dnsMinTtl (5 s): a call within it asks DNS nothing,
//                one after it asks SRV again
//   failover     the first SRV target a silent socket: the call is answered 200 by the second
//                after the first branch's Timer B (64 x timers.t1, t1 = 50 ms here: 3.2 s), within
//                Timer B + 1 s; a first target that answers 503: the second answers at once; a
//                name with its port that answers 503: no failover, the caller gets the 500 of
//                §16.7 step 6 as before; both targets silent: 4 branches (SRV_TARGETS), the last two
//                dropped by the host (dnsDroppedNoTarget), the 408 after 4 Timer Bs
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { setTimeout as sleep } from "node:timers/promises";
import { HOSTS, startServer } from "../integration/harness.mjs";
import { Dnsmasq } from "../lib/dnsmasq.mjs";
import { until } from "../lib/sipua.mjs";
import { udp, invite } from "../lib/dns-flood.mjs";
import { LIMITS } from "../../host/firmware/abi.mjs";


/** The value of header `name` in SIP text `m`. */
function header(m, name) {
  const r = new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(m);
  return r ? r[1].trim() : "";
}

/** A response `status` to request text `m` (its Via, From, To, Call-ID and CSeq copied). */
function response(m, status, reason, toTag = "") {
  const vias = m.split("\r\n").filter((l) => /^via:/i.test(l));
  const to = header(m, "To") + (toTag ? `;tag=${toTag}` : "");
  return [`SIP/2.0 ${status} ${reason}`, ...vias, `From: ${header(m, "From")}`, `To: ${to}`, `Call-ID: ${header(m, "Call-ID")}`,
    `CSeq: ${header(m, "CSeq")}`, ...(status === 200 ? ["Contact: <sip:bob@127.0.0.3>"] : []), "Content-Length: 0", "", ""].join("\r\n");
}

/**
 * A UDP SIP server of the test at `address`: records the Call-ID of every INVITE (`calls`, one entry
 * per message) and answers each with `status` (100 stops the proxy's retransmissions; 200, 503), or
 * nothing (0).
 */
async function sink(address, status = 100) {
  const s = await udp(address);
  const calls = [];
  s.on("message", (b, rinfo) => {
    const m = b.toString("latin1");
    if (!m.startsWith("INVITE ")) return;
    calls.push(header(m, "Call-ID"));
    if (status === 100) s.send(response(m, 100, "Trying"), rinfo.port, rinfo.address);
    if (status === 200) s.send(response(m, 200, "OK", "b1"), rinfo.port, rinfo.address);
    if (status === 503) s.send(response(m, 503, "Service Unavailable", "b2"), rinfo.port, rinfo.address);
  });
  return { sock: s, port: s.address().port, calls, close: () => s.close() };
}

/**
 * Two SRV targets of `name` served by a dnsmasq: a.test, 127.0.0.2, and b.test, 127.0.0.3, with
 * "priority,weight" `srvA` and `srvB`, sinks answering `first` and `second` (sink()'s statuses).
 */
async function twoTargets(name, first, second, srvA = "10,0", srvB = "20,0") {
  const a = await sink("127.0.0.2", first);
  const b = await sink("127.0.0.3", second);
  const dns = await Dnsmasq.start([
    `srv-host=_sip._udp.${name},a.test,${a.port},${srvA}`, `srv-host=_sip._udp.${name},b.test,${b.port},${srvB}`,
    "host-record=a.test,127.0.0.2", "host-record=b.test,127.0.0.3",
  ]);
  return { a, b, dns };
}

/** The caller's socket at 127.0.0.4 and every message it gets ({ m, at }). */
async function caller() {
  const sock = await udp("127.0.0.4");
  const got = [];
  sock.on("message", (b) => got.push({ m: b.toString("latin1"), at: Date.now() }));
  return { sock, got };
}

/** Stops the server and the DNS server and closes the test's sockets and listeners. */
async function stopAll(srv, dns, ...socks) {
  await srv.stop();
  for (const s of socks) s.close();
  await dns.close();
}

async function server(host, dns, extra = {}) {
  return startServer({
    host, trace: false, logLevel: "info", tcp: extra.tcp ?? false,
    config: { access: { trusted: ["127.0.0.0/8"] }, dns: { servers: [dns.server] }, ...extra.config },
  });
}

for (const host of HOSTS) {
  test(`${host}: an SRV-only name (no A record of its own) reaches its priority-10 target; an explicit port asks A only`, { timeout: 30_000 }, async () => {
    const { a: first, b: backup, dns } = await twoTargets("srvonly.test", 100, 100);
    const { sock: alice } = await caller();
    const srv = await server(host, dns);
    try {
      const a = invite(srv, alice, "127.0.0.4", "sip:bob@srvonly.test");
      await until(() => first.calls.includes(a), 5000, "the INVITE at the priority-10 target");
      const b = invite(srv, alice, "127.0.0.4", `sip:bob@b.test:${backup.port}`);
      await until(() => backup.calls.includes(b), 5000, "the INVITE to b.test with its port");
      await sleep(200);
      assert.deepEqual(backup.calls, [b], "the priority-20 target got the SRV name's call");
      assert.equal(dns.count("NAPTR", "srvonly.test"), 1, JSON.stringify(dns.queries));
      assert.equal(dns.count("SRV", "_sip._udp.srvonly.test"), 1);
      assert.equal(dns.count("A", "srvonly.test"), 0, "the name's own A was asked though it has SRV records");
      assert.equal(dns.count("A", "a.test"), 1);
      assert.equal(dns.queries.filter((q) => q.name.endsWith("b.test") && q.type !== "A").length, 0,
        `a URI with a port asked more than A: ${JSON.stringify(dns.queries)}`);
    } finally {
      await stopAll(srv, dns, first, backup, alice);
    }
  });

  test(`${host}: SRV weights 3:1 within one priority share 400 calls 3:1 (within 0.09); a call's messages stay on one target`, { timeout: 60_000 }, async (t) => {
    // no answers: the proxy retransmits, to the same target
    const { a: heavy, b: light, dns } = await twoTargets("weighted.test", 0, 0, "10,3", "10,1");
    const { sock: alice } = await caller();
    const srv = await server(host, dns);
    try {
      const N = 400;
      const ids = [];
      ids.push(invite(srv, alice, "127.0.0.4", "sip:bob@weighted.test"));
      await until(() => heavy.calls.length + light.calls.length > 0, 5000, "the first call"); // the lookup done
      for (let i = 1; i < N; i++) {
        ids.push(invite(srv, alice, "127.0.0.4", "sip:bob@weighted.test"));
        if (i % 50 === 0) await sleep(20);
      }
      await until(() => ids.every((id) => heavy.calls.includes(id) || light.calls.includes(id)), 10_000, "every call at a target");
      await sleep(1200); // the retransmissions at 500 ms and 1 s
      const h = new Set(heavy.calls), l = new Set(light.calls);
      const both = ids.filter((id) => h.has(id) && l.has(id));
      const share = h.size / N;
      t.diagnostic(`weights 3:1: ${h.size} calls to the weight-3 target, ${l.size} to the weight-1 one (${(share * 100).toFixed(1)} %); ` +
        `${heavy.calls.length + light.calls.length} INVITEs in all; SRV asked ${dns.count("SRV", "_sip._udp.weighted.test")} time(s)`);
      assert.equal(h.size + l.size, N);
      assert.ok(Math.abs(share - 0.75) < 0.09, `share of the weight-3 target ${share}`);
      assert.deepEqual(both, [], "a call's retransmissions went to both targets");
      assert.ok(heavy.calls.length + light.calls.length > N, "no retransmission seen: the same-target check proved nothing");
      assert.equal(dns.count("SRV", "_sip._udp.weighted.test"), 1, "cached: one SRV query");
    } finally {
      await stopAll(srv, dns, heavy, light, alice);
    }
  });

  test(`${host}: NAPTR points UDP and TCP at different SRV names; a UDP call and a ;transport=tcp call each follow theirs`, { timeout: 30_000 }, async () => {
    const udpSink = await sink("127.0.0.2");
    const tcpGot = [];
    const tcpServer = createServer((c) => {
      c.setEncoding("latin1");
      c.on("data", (d) => { if (d.startsWith("INVITE ")) tcpGot.push(header(d, "Call-ID")); });
      c.on("error", () => {});
    });
    await new Promise((res) => tcpServer.listen(0, "127.0.0.3", res));
    const tcpPort = tcpServer.address().port;
    const dns = await Dnsmasq.start([
      // order 10 for UDP, 20 for TCP: each transport takes the record of its own service
      "naptr-record=n.test,10,10,S,SIP+D2U,,_sip._udp.u.test",
      "naptr-record=n.test,20,10,S,SIP+D2T,,_sip._tcp.t.test",
      `srv-host=_sip._udp.u.test,udp.test,${udpSink.port},10,0`,
      `srv-host=_sip._tcp.t.test,tcp.test,${tcpPort},10,0`,
      // the SRV names of §4.1 without NAPTR, which must not be used here
      "srv-host=_sip._udp.n.test,wrong.test,5999,10,0", "srv-host=_sip._tcp.n.test,wrong.test,5999,10,0",
      "host-record=udp.test,127.0.0.2", "host-record=tcp.test,127.0.0.3", "host-record=wrong.test,127.0.0.9",
    ]);
    const alice = await udp("127.0.0.4");
    const srv = await server(host, dns, { tcp: true });
    try {
      const a = invite(srv, alice, "127.0.0.4", "sip:bob@n.test");
      const b = invite(srv, alice, "127.0.0.4", "sip:bob@n.test;transport=tcp");
      await until(() => udpSink.calls.includes(a), 5000, "the UDP call at the SIP+D2U target");
      await until(() => tcpGot.includes(b), 5000, "the TCP call at the SIP+D2T target");
      assert.ok(!udpSink.calls.includes(b), "the TCP call came over UDP");
      assert.equal(dns.count("SRV", "_sip._udp.n.test") + dns.count("SRV", "_sip._tcp.n.test"), 0, JSON.stringify(dns.queries));
      assert.equal(dns.count("A", "wrong.test"), 0);
    } finally {
      await stopAll(srv, dns, udpSink, tcpServer, alice);
    }
  });

  test(`${host}: NAPTR prefers TCP: a call to the name without ;transport goes over TCP to the SIP+D2T target, DNS asked once for two calls; a server without TCP sends it over UDP`, { timeout: 30_000 }, async () => {
    const udpSink = await sink("127.0.0.2");
    const tcpGot = [];
    const tcpServer = createServer((c) => {
      c.setEncoding("latin1");
      c.on("data", (d) => { if (d.startsWith("INVITE ")) tcpGot.push({ id: header(d, "Call-ID"), via: header(d, "Via") }); });
      c.on("error", () => {});
    });
    await new Promise((res) => tcpServer.listen(0, "127.0.0.3", res));
    const dns = await Dnsmasq.start([
      // RFC 3263 §4.1: the NAPTR record of lowest order among the transports we listen on
      "naptr-record=p.test,10,10,S,SIP+D2T,,_sip._tcp.pt.test",
      "naptr-record=p.test,20,10,S,SIP+D2U,,_sip._udp.pu.test",
      `srv-host=_sip._tcp.pt.test,tcp.test,${tcpServer.address().port},10,0`,
      `srv-host=_sip._udp.pu.test,udp.test,${udpSink.port},10,0`,
      "host-record=udp.test,127.0.0.2", "host-record=tcp.test,127.0.0.3",
    ]);
    const alice = await udp("127.0.0.4");
    let srv = await server(host, dns, { tcp: true });
    try {
      const a = invite(srv, alice, "127.0.0.4", "sip:bob@p.test");
      await until(() => tcpGot.some((g) => g.id === a), 5000, "the call at the SIP+D2T target");
      const b = invite(srv, alice, "127.0.0.4", "sip:bob@p.test");
      await until(() => tcpGot.some((g) => g.id === b), 5000, "the second call at the SIP+D2T target");
      assert.match(tcpGot.find((g) => g.id === a).via, /^SIP\/2\.0\/TCP /, "our Via names TCP");
      assert.deepEqual(udpSink.calls, [], "nothing over UDP");
      assert.equal(dns.count("NAPTR", "p.test"), 1, `the transport's and the location's NAPTR question asked once: ${JSON.stringify(dns.queries)}`);
      assert.equal(dns.count("SRV", "_sip._tcp.pt.test"), 1);
      assert.equal(dns.count("SRV", "_sip._udp.pu.test"), 0);
      await srv.stop();
      srv = await server(host, dns, { tcp: false });
      const c = invite(srv, alice, "127.0.0.4", "sip:bob@p.test");
      await until(() => udpSink.calls.includes(c), 5000, "without a TCP listener, the call at the SIP+D2U target");
      assert.ok(!tcpGot.some((g) => g.id === c), "the call went over TCP without a TCP listener");
    } finally {
      await stopAll(srv, dns, udpSink, tcpServer, alice);
    }
  });

  test(`${host}: localhost (the hosts file) without a port goes to 127.0.0.1:5060; DNS is asked nothing`, { timeout: 30_000 }, async () => {
    const s5060 = createSocket("udp4");
    await new Promise((res, rej) => { s5060.once("error", rej); s5060.bind(5060, "127.0.0.1", res); });
    const calls = [];
    s5060.on("message", (b) => calls.push(b.toString("latin1")));
    const dns = await Dnsmasq.start([]);
    const alice = await udp("127.0.0.4");
    const srv = await server(host, dns, { config: { domains: ["local.test"] } }); // localhost is not ours here
    try {
      const id = invite(srv, alice, "127.0.0.4", "sip:bob@localhost");
      await until(() => calls.some((m) => m.includes(id)), 5000, "the INVITE at 127.0.0.1:5060");
      assert.deepEqual(dns.queries.filter((q) => q.name.includes("localhost")), []);
    } finally {
      await stopAll(srv, dns, s5060, alice);
    }
  });

  test(`${host}: records of TTL 1 s are kept dnsMinTtl (${LIMITS.dnsMinTtl} s), then asked again`, { timeout: 30_000 }, async (t) => {
    const target = await sink("127.0.0.2");
    const dns = await Dnsmasq.start([`srv-host=_sip._udp.ttl.test,one.test,${target.port},10,0`, "host-record=one.test,127.0.0.2"], { ttl: 1 });
    const alice = await udp("127.0.0.4");
    const srv = await server(host, dns);
    try {
      const t0 = Date.now();
      const a = invite(srv, alice, "127.0.0.4", "sip:bob@ttl.test");
      await until(() => target.calls.includes(a), 5000, "the first call");
      await sleep(1500);
      const b = invite(srv, alice, "127.0.0.4", "sip:bob@ttl.test");
      await until(() => target.calls.includes(b), 5000, "the second call");
      assert.equal(dns.count("SRV", "_sip._udp.ttl.test"), 1, "asked again within dnsMinTtl");
      await sleep(Math.max(0, LIMITS.dnsMinTtl * 1000 + 500 - (Date.now() - t0)));
      const c = invite(srv, alice, "127.0.0.4", "sip:bob@ttl.test");
      await until(() => target.calls.includes(c), 5000, "the third call");
      const asked = dns.queries.filter((q) => q.type === "SRV").map((q) => q.at - t0);
      t.diagnostic(`SRV queries at ${asked.join(", ")} ms after the first call`);
      assert.equal(dns.count("SRV", "_sip._udp.ttl.test"), 2, "not asked again after the TTL (clamped) ran out");
      assert.equal(dns.count("A", "one.test"), 2);
    } finally {
      await stopAll(srv, dns, target, alice);
    }
  });

  for (const first of ["silent", "503"]) {
    test(`${host}: failover: the first SRV target ${first === "silent" ? "does not answer" : "answers 503"}; the call completes on the second` +
      `${first === "silent" ? " within Timer B (64 x t1) + 1 s" : ""}`, { timeout: 30_000 }, async (t) => {
      const T1 = 50;
      const { a: dead, b: good, dns } = await twoTargets("fo.test", first === "silent" ? 0 : 503, 200);
      const { sock: alice, got } = await caller();
      const srv = await server(host, dns, { config: { timers: { t1: T1 } } });
      try {
        const t0 = Date.now();
        const id = invite(srv, alice, "127.0.0.4", "sip:bob@fo.test");
        await until(() => got.some((g) => g.m.startsWith("SIP/2.0 200") && g.m.includes(id)), 64 * T1 + 5000, "the 200 at the caller");
        const ok = got.find((g) => g.m.startsWith("SIP/2.0 200") && g.m.includes(id));
        const ms = ok.at - t0;
        const firstAt = dead.calls.filter((c) => c === id).length;
        t.diagnostic(`${first} first target: the 200 reached the caller after ${ms} ms (Timer B ${64 * T1} ms); ` +
          `the first target got ${firstAt} INVITE(s), the second ${good.calls.filter((c) => c === id).length}`);
        // silent: Timer A's retransmissions (T1, 2 T1, ...) then Timer B; 503: one INVITE, at once
        const [minFirst, lo, hi] = first === "silent" ? [3, 64 * T1 - 100, 64 * T1 + 1000] : [1, 0, 1000];
        assert.ok(firstAt >= minFirst, `the first target got ${firstAt} INVITE(s), wanted ${minFirst} or more`);
        assert.deepEqual(good.calls, [id], "the second target got the call once");
        assert.ok(ms >= lo && ms <= hi, `the call completed after ${ms} ms, wanted ${lo}..${hi} (Timer B ${64 * T1} ms)`);
        assert.ok(!got.some((g) => /^SIP\/2\.0 [3-6]\d\d/.test(g.m)), `a failure reached the caller: ${got.map((g) => g.m.split("\r\n")[0])}`);
      } finally {
        await stopAll(srv, dns, dead, good, alice);
      }
    });
  }

  test(`${host}: a name with its port answering 503 gets no failover: the caller gets 500 (§16.7 step 6), the other target nothing`, { timeout: 30_000 }, async () => {
    const dead = await sink("127.0.0.2", 503);
    const good = await sink("127.0.0.3", 200);
    const dns = await Dnsmasq.start([
      `srv-host=_sip._udp.dead.test,good.test,${good.port},10,0`, // SRV records it must not use: the URI has a port
      "host-record=dead.test,127.0.0.2", "host-record=good.test,127.0.0.3",
    ]);
    const alice = await udp("127.0.0.4");
    const got = [];
    alice.on("message", (b) => got.push(b.toString("latin1")));
    const srv = await server(host, dns);
    try {
      const id = invite(srv, alice, "127.0.0.4", `sip:bob@dead.test:${dead.port}`);
      await until(() => got.some((m) => /^SIP\/2\.0 [2-6]\d\d/.test(m) && m.includes(id)), 5000, "a final response at the caller");
      await sleep(300);
      const finals = got.filter((m) => /^SIP\/2\.0 [2-6]\d\d/.test(m)).map((m) => m.split("\r\n")[0]);
      assert.deepEqual(finals, ["SIP/2.0 500 Server Internal Error"]);
      assert.deepEqual(dead.calls, [id]);
      assert.deepEqual(good.calls, [], "a branch went to another target");
      assert.equal(dns.count("SRV", "_sip._udp.dead.test"), 0, JSON.stringify(dns.queries));
    } finally {
      await stopAll(srv, dns, dead, good, alice);
    }
  });

  test(`${host}: every SRV target silent: SRV_TARGETS (${LIMITS.dnsTargets}) branches, those past the last dropped by the host, then 408`, { timeout: 40_000 }, async (t) => {
    const T1 = 50;
    const { a, b, dns } = await twoTargets("gone.test", 0, 0);
    const { sock: alice, got } = await caller();
    const srv = await server(host, dns, { config: { timers: { t1: T1 } } });
    try {
      const t0 = Date.now();
      const id = invite(srv, alice, "127.0.0.4", "sip:bob@gone.test");
      const B = 64 * T1;
      await until(() => got.some((g) => /^SIP\/2\.0 [2-6]\d\d/.test(g.m)), LIMITS.dnsTargets * B + 5000, "a final response");
      const final = got.find((g) => /^SIP\/2\.0 [2-6]\d\d/.test(g.m));
      const ms = final.at - t0;
      const mark = srv.logs.length;
      srv.child.kill("SIGUSR2");
      const st = await srv.waitFor((o) => o.msg === "stats" && srv.logs.indexOf(o) >= mark, 5000, "the stats line");
      t.diagnostic(`${final.m.split("\r\n")[0]} after ${ms} ms (${LIMITS.dnsTargets} x Timer B = ${LIMITS.dnsTargets * B} ms); ` +
        `dnsDroppedNoTarget ${st.dnsDroppedNoTarget}`);
      assert.equal(final.m.split("\r\n")[0], "SIP/2.0 408 Request Timeout");
      assert.ok(final.m.includes(id));
      assert.ok(a.calls.includes(id) && b.calls.includes(id), "both targets tried");
      // the 2 branches past the last target, each INVITE and its Timer A retransmissions (7 in a Timer B)
      assert.ok(st.dnsDroppedNoTarget >= LIMITS.dnsTargets - 2 && st.dnsDroppedNoTarget <= (LIMITS.dnsTargets - 2) * 7, JSON.stringify(st));
      assert.ok(ms >= LIMITS.dnsTargets * B - 200 && ms <= LIMITS.dnsTargets * B + 1500, `408 after ${ms} ms`);
    } finally {
      await stopAll(srv, dns, a, b, alice);
    }
  });
}
