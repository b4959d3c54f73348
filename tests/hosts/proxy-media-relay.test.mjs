// The proxy's media relay end to end with real sockets (issue 14; assembly/proxy/media.ts), on both
// hosts, with the server board (the proxy with its registrar). The caller is a small UA of the test at
// 127.0.0.1 (a trusted source, so it may call another domain) with an RTP socket of its own; the callee
// is SIPp at 127.0.0.9 with its RTP echo (-rtp_echo: every packet sent back where it came from), keeping
// the proxy's Record-Route (uas_rtp_echo_rr.xml) so that the ACK and the BYE come through the proxy.
//   "always": the offer reaches SIPp with the relay's address and port, the answer reaches the caller the
//     same way; 50 RTP packets (172 bytes: G.711 at 20 ms) go through the relay to SIPp and come back
//     through it, every one, from the relay's port facing the caller, byte for byte; the BYE closes both
//     legs and the usage log has their counters (50 packets each, nothing lost or dropped).
//   "nat": a caller whose SDP names a private address it cannot be reached at (192.168.1.20: behind a
//     NAT) is relayed, and its echoes still come back to where it really sends from (the relay latches
//     on its packets); a caller with nothing behind NAT is not relayed (SIPp's own media port in the
//     answer).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { withServer, sipp, describe, freePort, sf, settle, scratch, relayBase, HOSTS } from "../integration/harness.mjs";
import { Ua, request, response, status, hdrs, token } from "../lib/sipua.mjs";
import { phoneSdp, bodyOf, mPort, rtpPacket, boundUdp } from "../lib/media.mjs";

const CALLEE_IP = "127.0.0.9";
const PACKETS = 50;

/**
 * One call from the test's UA through the proxy to SIPp's echo, with `addr` in the caller's SDP; 50
 * packets sent to the port of the answer and their echoes collected. Returns what the checks need.
 */
async function call(srv, { addr = "127.0.0.1", name, during = null }) {
  const calleePort = await freePort();
  const mediaPort = await freePort();
  const phone = await Ua.open();
  const rtp = createSocket("udp4");
  await new Promise((r) => rtp.bind(0, "127.0.0.1", r));
  const echoes = [];
  rtp.on("message", (m, r) => echoes.push({ m, from: `${r.address}:${r.port}` }));
  const callId = token("pcall");
  try {
    const callee = sipp(["-sf", sf("uas_rtp_echo_rr.xml"), "-p", String(calleePort), "-mp", String(mediaPort), "-rtp_echo", "-m", "1",
      "-timeout", "30s", "-timeout_error"], { name, ip: CALLEE_IP, timeoutMs: 35_000 });
    await sleep(300);
    const fromTag = token("f");
    const to = `sip:echo@${CALLEE_IP}:${calleePort}`;
    const ok = await phone.request(srv, request(phone, { ruri: to, from: "sip:alice@127.0.0.1", fromTag, to, callId,
      contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Content-Type: application/sdp"], body: phoneSdp(rtp.address().port, addr) }), { timeoutMs: 8000 });
    assert.equal(status(ok), 200, `the call answered:\n${ok}`);
    const toTag = /;tag=([^;>\s]+)/.exec(hdrs(ok, "To")[0])[1];
    const routes = hdrs(ok, "Record-Route");
    assert.equal(routes.length, 1, `the proxy's Record-Route came back in SIPp's 200:\n${ok}`);
    const target = /<([^>]+)>/.exec(hdrs(ok, "Contact")[0])[1];
    const inDialog = (method, cseq) => request(phone, { method, ruri: target, from: "sip:alice@127.0.0.1", fromTag, to, toTag, callId, cseq,
      contact: null, extra: [`Route: ${routes[0]}`] });
    phone.send(inDialog("ACK", 1), srv.port);
    await settle(srv);
    const offer = srv.sip("out").find((m) => m.peer.endsWith(`${CALLEE_IP}:${calleePort}`) && m.first.startsWith("INVITE "));
    assert.ok(offer, "the INVITE went to SIPp");
    const answer = bodyOf(ok);
    const port = mPort(answer);
    during?.(answer, bodyOf(offer.sip)); // checks while the call is up
    for (let seq = 1; seq <= PACKETS; seq++) {
      rtp.send(rtpPacket(seq), port, "127.0.0.1");
      await sleep(20);
    }
    for (let i = 0; i < 50 && echoes.length < PACKETS; i++) await sleep(20);
    const bye = await phone.request(srv, inDialog("BYE", 2));
    assert.equal(status(bye), 200, `the BYE through the proxy answered:\n${bye}`);
    const r = await callee;
    assert.equal(r.code, 0, describe(r));
    await settle(srv);
    return { callId, answer, port, offer: bodyOf(offer.sip), mediaPort, echoes, rtpPort: rtp.address().port };
  } finally {
    phone.close();
    rtp.close();
  }
}

for (const host of HOSTS) {
  test(`${host}: "always": RTP through the proxy's relay to SIPp's echo and back, every packet, from the relay's port; legs closed at the BYE`, { timeout: 60_000 }, async () => {
    const base = await relayBase();
    const usage = scratch(`proxy-relay-usage-${host}.jsonl`, "");
    const config = {
      domains: ["127.0.0.1"], usageLog: usage, access: { trusted: ["127.0.0.1/32"] },
      mediaRelay: { mode: "always", addresses: ["127.0.0.1"], portMin: base, portMax: base + 63, idle: 30 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const c = await call(srv, { name: `echo-${host}` });
      assert.match(c.answer, /^c=IN IP4 127\.0\.0\.1\r$/m);
      assert.ok(c.port >= base && c.port <= base + 63 && c.port % 2 === 0, `a relay port in the answer: ${c.answer}`);
      assert.notEqual(c.port, c.mediaPort, "not SIPp's own media port");
      const calleeLeg = mPort(c.offer);
      assert.ok(calleeLeg >= base && calleeLeg <= base + 63 && calleeLeg !== c.port, `the relay's other port in the offer:\n${c.offer}`);
      assert.equal(c.echoes.length, PACKETS, `every packet came back (${c.echoes.length} of ${PACKETS})`);
      for (const e of c.echoes) assert.equal(e.from, `127.0.0.1:${c.port}`, "from the relay's port facing the caller");
      assert.deepEqual(c.echoes.map((e) => e.m.readUInt16BE(2)), Array.from({ length: PACKETS }, (_, i) => i + 1), "in order, none missing");
      assert.ok(c.echoes.every((e) => e.m.equals(rtpPacket(e.m.readUInt16BE(2)))), "byte for byte");
      await srv.stop();
      const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.event === "relay");
      assert.equal(records.length, 2, `two legs closed at the BYE: ${JSON.stringify(records)}`);
      for (const rec of records) {
        assert.equal(rec.callId, c.callId);
        assert.equal(rec.packets, PACKETS, `each leg took ${PACKETS} packets: ${JSON.stringify(rec)}`);
        assert.equal(rec.bytes, PACKETS * 172);
        assert.equal(rec.lost, 0);
        assert.equal(rec.dropped, 0);
      }
    });
  });
}

for (const host of HOSTS) {
  test(`${host}: "nat": a caller whose SDP names a private address is relayed and hears its echo; one with nothing behind NAT is not`, { timeout: 90_000 }, async () => {
    const base = await relayBase();
    const config = {
      domains: ["127.0.0.1"], access: { trusted: ["127.0.0.1/32"] },
      mediaRelay: { mode: "nat", addresses: ["127.0.0.1"], portMin: base, portMax: base + 63 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const natted = await call(srv, { addr: "192.168.1.20", name: `nat-${host}` });
      assert.ok(natted.port >= base && natted.port <= base + 63, `relayed: a relay port in the answer: ${natted.answer}`);
      assert.match(natted.offer, /^c=IN IP4 127\.0\.0\.1\r$/m, "SIPp was offered the relay, not the private address");
      assert.equal(natted.echoes.length, PACKETS, `the echoes reached the caller's real address (${natted.echoes.length} of ${PACKETS})`);
      const direct = await call(srv, { addr: "127.0.0.1", name: `direct-${host}` });
      assert.equal(direct.port, direct.mediaPort, `not relayed: SIPp's own media port in the answer: ${direct.answer}`);
      assert.match(direct.offer, /^c=IN IP4 127\.0\.0\.1\r$/m);
      assert.equal(mPort(direct.offer), direct.rtpPort, "the offer's port as the caller wrote it");
    });
  });
}

// A call still up when the server stops: its legs' usage records are written at the stop, as at a BYE
// (the native host wrote none for legs open at its stop).
for (const host of HOSTS) {
  test(`${host}: a relayed call still up at the stop: both legs' usage records written`, { timeout: 60_000 }, async () => {
    const base = await relayBase();
    const usage = scratch(`proxy-relay-stop-${host}.jsonl`, "");
    const config = {
      domains: ["127.0.0.1"], usageLog: usage, access: { trusted: ["127.0.0.1/32"] },
      mediaRelay: { mode: "always", addresses: ["127.0.0.1"], portMin: base, portMax: base + 63 },
    };
    const callId = token("stop");
    await withServer({ host, tcp: false, config }, async (srv) => {
      const phone = await Ua.open();
      const callee = await Ua.open(CALLEE_IP);
      try {
        const to = `sip:echo@${CALLEE_IP}:${callee.port}`;
        const fromTag = token("f");
        const answered = phone.request(srv, request(phone, { ruri: to, from: "sip:alice@127.0.0.1", fromTag, to, callId,
          contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Content-Type: application/sdp"], body: phoneSdp(4000) }), { timeoutMs: 8000 });
        const inv = await callee.waitFor((m) => m.startsWith("INVITE "), 5000);
        assert.ok(inv, "the INVITE reached the callee");
        const body = phoneSdp(5000, CALLEE_IP);
        const ok = response(inv, 200, "OK", { toTag: token("t"), extra: [`Contact: <sip:echo@${CALLEE_IP}:${callee.port}>`, "Content-Type: application/sdp"] })
          .replace("Content-Length: 0\r\n\r\n", `Content-Length: ${body.length}\r\n\r\n${body}`);
        const via = /^Via: SIP\/2\.0\/UDP ([\d.]+):(\d+)/m.exec(inv);
        callee.send(ok, Number(via[2]), via[1]);
        const final = await answered;
        assert.equal(status(final), 200, `answered:\n${final}`);
        await settle(srv);
        assert.equal(srv.sip("out").filter((m) => m.first.startsWith("INVITE ")).length, 1);
      } finally {
        phone.close();
        callee.close();
      }
      await srv.stop();
    });
    const records = readFileSync(usage, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((o) => o.event === "relay");
    assert.equal(records.length, 2, `both legs' records at the stop: ${JSON.stringify(records)}`);
    for (const rec of records) assert.equal(rec.callId, callId);
  });
}

// Relay interfaces (rtpengine's interface=): the callee's network (127.0.0.9, "mediaRelay.networks")
// maps to interface "far" at 127.0.0.2; the caller's (127.0.0.1, none) to the default at 127.0.0.1.
for (const host of HOSTS) {
  test(`${host}: relay interfaces by network: the callee's legs bound on its interface and its SDP naming it, the caller's on the default; RTP flows`, { timeout: 60_000 }, async () => {
    const base = await relayBase();
    const config = {
      domains: ["127.0.0.1"], access: { trusted: ["127.0.0.1/32"] },
      mediaRelay: { mode: "always", addresses: ["127.0.0.1", "far/127.0.0.2"], networks: [`${CALLEE_IP}/32 far`], portMin: base, portMax: base + 63, idle: 30 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      let checked = false;
      const c = await call(srv, { name: `echo-if-${host}`, during: (answer, offer) => {
        assert.match(answer, /^c=IN IP4 127\.0\.0\.1\r$/m, "the caller's SDP names the default interface");
        assert.match(offer, /^c=IN IP4 127\.0\.0\.2\r$/m, `the callee's SDP names interface "far":\n${offer}`);
        assert.ok(boundUdp("127.0.0.1", mPort(answer)), "the caller's leg bound on 127.0.0.1");
        assert.ok(boundUdp("127.0.0.2", mPort(offer)), "the callee's leg bound on 127.0.0.2");
        assert.ok(!boundUdp("127.0.0.1", mPort(offer)), "not on the default interface");
        checked = true;
      } });
      assert.ok(checked, "checked while the call was up");
      assert.equal(c.echoes.length, PACKETS, `every packet came back (${c.echoes.length} of ${PACKETS})`);
      for (const e of c.echoes) assert.equal(e.from, `127.0.0.1:${c.port}`, "from the relay's port facing the caller");
    });
  });
}
