// A trunk found by DNS (issue 13 item 4, SIPconnect static mode: "the provider is a peer found by address
// or by DNS") on the Node and native hosts: the B2BUA's trunk side names its provider carrier.test with
// no port; a real DNS server, dnsmasq from Debian on loopback with only the test's records
// (tests/lib/dnsmasq.mjs), has two SRV targets for it, sbc1.test (127.0.0.9, priority 10) and sbc2.test
// (127.0.0.10, priority 20), whose SIP servers are the test's sockets (loopback sinks: nothing leaves
// the machine).
//   outbound     a phone's call toward the trunk: to the priority-10 target with the name in the
//                Request-URI; that target silent: the call is answered by the second after the first's
//                Timer B (64 x timers.t1, t1 = 50 ms: 3.2 s), within Timer B + 1 s
//   inbound      once the host has resolved the name ("trunk resolved" line), a call from the second
//                target's address rings the registered phone; the same call from 127.0.0.11, an
//                address of no target, gets 403 and reaches no phone
//   registration a trunk by name with "register": its REGISTER reaches the priority-10 target with
//                the name in the Request-URI and in the AOR, and the target's 200 registers it; the
//                first target silent: the REGISTER goes to the second after Timer F (64 x t1) and
//                registers there, with no backoff (RFC 3263 §4.3)
//   transport    with no "transport" configured, the host chooses by RFC 3263 §4.1 among what it
//                listens on: NAPTR preferring SIP+D2T sends the trunk's REGISTER and a phone's call over
//                TCP to the _sip._tcp target ("trunk transport" tcp), nothing to the UDP one
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOSTS, startServer } from "../integration/harness.mjs";
import { Dnsmasq } from "../lib/dnsmasq.mjs";
import { Ua, Sink, request, response, hdrs, status, firstLine, until } from "../lib/sipua.mjs";
import { createServer } from "node:net";

const T1 = 50;
const SDP = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 40000 RTP/AVP 0", ""].join("\r\n");

/** The DNS server: carrier.test's two SRV targets on the given ports. */
function dnsFor(p1, p2) {
  return Dnsmasq.start([
    `srv-host=_sip._udp.carrier.test,sbc1.test,${p1},10,0`, `srv-host=_sip._udp.carrier.test,sbc2.test,${p2},20,0`,
    "host-record=sbc1.test,127.0.0.9", "host-record=sbc2.test,127.0.0.10",
  ]);
}

/** An endpoint that answers every INVITE 180 then 200 with SDP, every BYE 200, and REGISTER 200. */
async function answering(address) {
  const ua = await Ua.open(address);
  const seen = [];
  ua.sock.on("message", (b, r) => {
    const m = b.toString("latin1");
    seen.push({ m, at: Date.now() });
    const reply = (t) => ua.sock.send(Buffer.from(t, "latin1"), r.port, r.address);
    if (m.startsWith("INVITE ")) {
      reply(response(m, 180, "Ringing", { toTag: "sbc" }));
      reply(response(m, 200, "OK", { toTag: "sbc", extra: [`Contact: <sip:sbc@${address}:${ua.port}>`, "Content-Type: application/sdp"] })
        .replace("Content-Length: 0\r\n\r\n", `Content-Length: ${SDP.length}\r\n\r\n${SDP}`));
    } else if (m.startsWith("BYE ")) reply(response(m, 200, "OK"));
    else if (m.startsWith("REGISTER ")) reply(response(m, 200, "OK", { toTag: "reg", extra: [`Contact: ${hdrs(m, "Contact")[0]};expires=600`] }));
  });
  return { ua, seen, port: ua.port, close: () => ua.close() };
}

async function b2bua(host, dns, carrier = {}, tcp = false) {
  return startServer({
    host, trace: true, logLevel: "info", tcp,
    config: {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], dns: { servers: [dns.server] }, timers: { t1: T1 },
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: "carrier.test", route: "office", ...carrier },
      ],
    },
  });
}

/** The phone alice at 127.0.0.1, registered; answers INVITEs 200 like `answering`. */
async function phone(srv) {
  const a = await answering("127.0.0.1");
  const r = await a.ua.request(srv, request(a.ua, {
    method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:alice@127.0.0.1", to: "sip:alice@127.0.0.1",
    contact: `<sip:alice@127.0.0.1:${a.port}>`, extra: ["Expires: 600"],
  }));
  assert.equal(status(r), 200, `alice registered: ${firstLine(r)}`);
  return a;
}

for (const host of HOSTS) {
  test(`${host}: a call toward a trunk by name goes to its first SRV target; silent, the second answers after Timer B`, { timeout: 30_000 }, async () => {
    const sbc1 = await Sink.open("127.0.0.9");
    const sbc2 = await answering("127.0.0.10");
    const dns = await dnsFor(sbc1.port, sbc2.port);
    const srv = await b2bua(host, dns);
    try {
      const alice = await phone(srv);
      const inv = request(alice.ua, { ruri: "sip:15551234@127.0.0.1", from: "sip:alice@127.0.0.1", contact: `<sip:alice@127.0.0.1:${alice.port}>`,
        extra: ["Content-Type: application/sdp"], body: SDP });
      const started = Date.now();
      alice.ua.send(inv, srv.port);
      const ok = await alice.ua.waitFor((m) => status(m) === 200 && /INVITE/.test(hdrs(m, "CSeq")[0]), 64 * T1 + 3000);
      assert.ok(ok, `the call answered\n${srv.summary().slice(-3000)}`);
      alice.close();
      const first = sbc1.received.filter((x) => x.text.startsWith("INVITE "));
      assert.ok(first.length >= 1, "the first target got the INVITE");
      assert.equal(firstLine(first[0].text), "INVITE sip:15551234@carrier.test SIP/2.0");
      const second = sbc2.seen.find((x) => x.m.startsWith("INVITE "));
      assert.ok(second, "the second target got it");
      const wait = second.at - started;
      assert.ok(wait >= 64 * T1 && wait < 64 * T1 + 1000, `the second target after Timer B (${64 * T1} ms): ${wait} ms`);
    } finally {
      await srv.stop();
      sbc1.close(); sbc2.close();
      await dns.close();
    }
  });

  test(`${host}: a trunk by name takes calls from the addresses its name resolves to, 403 from others`, { timeout: 30_000 }, async () => {
    const sbc1 = await Sink.open("127.0.0.9");
    const sbc2 = await answering("127.0.0.10");
    const dns = await dnsFor(sbc1.port, sbc2.port);
    const srv = await b2bua(host, dns);
    const stranger = await Ua.open("127.0.0.11");
    try {
      const alice = await phone(srv);
      await srv.waitFor((o) => o.msg === "trunk resolved", 5000, "the trunk's name resolved");
      const call = (ua) => request(ua, { ruri: "sip:alice@127.0.0.1", from: "sip:+15550100@carrier.test", contact: `<sip:p@${ua.address}:${ua.port}>`,
        extra: ["Content-Type: application/sdp"], body: SDP });
      const r1 = await stranger.request(srv, call(stranger), { timeoutMs: 3000 });
      assert.equal(status(r1), 403, `a stranger: ${firstLine(r1)}`);
      assert.equal(alice.seen.filter((x) => x.m.startsWith("INVITE ")).length, 0, "nothing reached the phone");
      const r2 = await sbc2.ua.request(srv, call(sbc2.ua), { timeoutMs: 3000 });
      assert.equal(status(r2), 200, `the trunk's second SBC: ${firstLine(r2)}\n${srv.summary().slice(-3000)}`);
      assert.equal(alice.seen.filter((x) => x.m.startsWith("INVITE ")).length, 1, "the phone rang");
      const line = srv.logs.find((o) => o.msg === "trunk resolved");
      assert.deepEqual(line.addresses.split(" ").sort(), ["127.0.0.10", "127.0.0.9"]);
      alice.close();
    } finally {
      await srv.stop();
      stranger.close(); sbc1.close(); sbc2.close();
      await dns.close();
    }
  });

  test(`${host}: a trunk by name registers at its first SRV target, the name in the Request-URI and the AOR`, { timeout: 30_000 }, async () => {
    const sbc1 = await answering("127.0.0.9");
    const sbc2 = await Sink.open("127.0.0.10");
    const dns = await dnsFor(sbc1.port, sbc2.port);
    const srv = await b2bua(host, dns, { register: true, username: "acme", password: "s3cret-acme" });
    try {
      await until(() => sbc1.seen.some((x) => x.m.startsWith("REGISTER ")), 5000, "the REGISTER at the first target");
      const reg = sbc1.seen.find((x) => x.m.startsWith("REGISTER ")).m;
      assert.equal(firstLine(reg), "REGISTER sip:carrier.test SIP/2.0");
      assert.match(hdrs(reg, "To")[0], /^<sip:acme@carrier\.test>/);
      await srv.waitFor((o) => o.event === "trunk-reg" && o.code === 200, 5000, "the trunk registered");
      assert.equal(sbc2.received.length, 0, "nothing to the second target");
    } finally {
      await srv.stop();
      sbc1.close(); sbc2.close();
      await dns.close();
    }
  });

  test(`${host}: a trunk by name whose first SRV target is silent registers at the second after Timer F`, { timeout: 30_000 }, async (t) => {
    const sbc1 = await Sink.open("127.0.0.9");
    const sbc2 = await answering("127.0.0.10");
    const dns = await dnsFor(sbc1.port, sbc2.port);
    let sent = 0;
    sbc1.ua.sock.on("message", (b) => { if (!sent && b.toString("latin1").startsWith("REGISTER ")) sent = Date.now(); });
    const srv = await b2bua(host, dns, { register: true, username: "acme", password: "s3cret-acme" });
    try {
      await until(() => sent > 0, 5000, "the REGISTER at the first target");
      await srv.waitFor((o) => o.event === "trunk-reg" && o.code === 200, 64 * T1 + 3000, "registered at the second target");
      const reg = sbc2.seen.find((x) => x.m.startsWith("REGISTER "));
      assert.ok(reg, "the second target got the REGISTER");
      assert.equal(firstLine(reg.m), "REGISTER sip:carrier.test SIP/2.0");
      const wait = reg.at - sent;
      assert.ok(wait >= 64 * T1 - 20 && wait < 64 * T1 + 1000, `the second target after Timer F (${64 * T1} ms): ${wait} ms`);
      t.diagnostic(`${host}: the REGISTER reached the second SRV target ${wait} ms after the first (Timer F ${64 * T1} ms)`);
      assert.deepEqual(srv.logs.filter((o) => o.event === "trunk-reg").map((o) => o.detail), ["registering", "registered"], "no backoff between");
    } finally {
      await srv.stop();
      sbc1.close(); sbc2.close();
      await dns.close();
    }
  });

  test(`${host}: a trunk by name with no transport configured: NAPTR prefers TCP, its REGISTER and calls go over TCP`, { timeout: 30_000 }, async () => {
    // the provider's TCP server at 127.0.0.9: answers REGISTER 200 on the connection, records INVITEs
    const got = [];
    const tcp = createServer((c) => {
      let buf = "";
      c.setEncoding("latin1");
      c.on("error", () => {});
      c.on("data", (d) => {
        buf += d;
        for (;;) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          const m = buf.slice(0, end + 4 + len);
          buf = buf.slice(end + 4 + len);
          got.push(m);
          if (m.startsWith("REGISTER ")) c.write(response(m, 200, "OK", { toTag: "reg", extra: [`Contact: ${hdrs(m, "Contact")[0]};expires=600`] }));
        }
      });
    });
    await new Promise((res) => tcp.listen(0, "127.0.0.9", res));
    const udpSink = await Sink.open("127.0.0.9");
    const dns = await Dnsmasq.start([
      "naptr-record=carrier.test,10,10,S,SIP+D2T,,_sip._tcp.carrier.test",
      "naptr-record=carrier.test,20,10,S,SIP+D2U,,_sip._udp.carrier.test",
      `srv-host=_sip._tcp.carrier.test,sbc1.test,${tcp.address().port},10,0`,
      `srv-host=_sip._udp.carrier.test,sbc1.test,${udpSink.port},10,0`,
      "host-record=sbc1.test,127.0.0.9",
    ]);
    const srv = await b2bua(host, dns, { register: true, username: "acme", password: "s3cret-acme" }, true);
    try {
      await srv.waitFor((o) => o.msg === "trunk transport", 5000, "the trunk's transport chosen");
      assert.equal(srv.logs.find((o) => o.msg === "trunk transport").transport, "tcp");
      await srv.waitFor((o) => o.event === "trunk-reg" && o.code === 200, 5000, "registered over TCP");
      const reg = got.find((m) => m.startsWith("REGISTER "));
      assert.equal(firstLine(reg), "REGISTER sip:carrier.test SIP/2.0");
      assert.match(hdrs(reg, "Via")[0], /^SIP\/2\.0\/TCP /);
      assert.match(hdrs(reg, "Contact")[0], /;transport=tcp/i);
      const alice = await phone(srv);
      alice.ua.send(request(alice.ua, { ruri: "sip:15551234@127.0.0.1", from: "sip:alice@127.0.0.1", contact: `<sip:alice@127.0.0.1:${alice.port}>`,
        extra: ["Content-Type: application/sdp"], body: SDP }), srv.port);
      await until(() => got.some((m) => m.startsWith("INVITE ")), 5000, "the call at the TCP target");
      assert.equal(firstLine(got.find((m) => m.startsWith("INVITE "))), "INVITE sip:15551234@carrier.test SIP/2.0");
      assert.match(hdrs(got.find((m) => m.startsWith("INVITE ")), "Via")[0], /^SIP\/2\.0\/TCP /);
      alice.close();
      assert.deepEqual(udpSink.lines(), [], "nothing over UDP");
      assert.equal(srv.logs.filter((o) => o.event === "trunk-reg").map((o) => o.detail).join(" "), "registering registered", "no REGISTER before the transport was known");
    } finally {
      await srv.stop();
      udpSink.close();
      await new Promise((res) => tcp.close(res));
      await dns.close();
    }
  });
}
