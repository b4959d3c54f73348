// The media relay end to end with real sockets (issue 14): the B2BUA (board gateway) between a registrar
// side and a trunk whose media it relays ("mediaRelay": true). The provider is SIPp at 127.0.0.9 with its
// RTP echo (-rtp_echo: every packet sent back to where it came from); the phone is a small UA of the test
// with an RTP socket of its own. The phone's offer reaches SIPp with the relay's address and port, the
// answer reaches the phone the same way; 50 RTP packets (172 bytes: G.711 at 20 ms) from the phone go
// through the relay to SIPp and come back through it: every one arrives, from the relay's port facing the
// phone, byte for byte; nothing of the phone's or SIPp's media addresses crosses to the other side; at the
// BYE both legs close and the usage log has their counters. A call whose media stop (no packet either
// way for "idle" seconds) is ended by the server: our BYE to the phone and to the provider.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { withServer, sipp, describe, freePort, sf, settle, scratch, relayBase, HOSTS } from "../integration/harness.mjs";
import { Ua, request, status, hdrs, token } from "../lib/sipua.mjs";
import { phoneSdp, bodyOf, mPort, rtpPacket, boundUdp } from "../lib/media.mjs";

const TRUNK_IP = "127.0.0.9";
const PACKETS = 50;

/**
 * alice (phone, RTP on rtp) registers and calls 15551234 through the B2BUA at srv with `offer` (default:
 * phoneSdp for rtp's port); SIPp answers at TRUNK_IP:trunkPort and echoes RTP (its media port
 * mediaPort). Returns the 200 and hangUp(): alice's BYE answered, and SIPp's scenario passed.
 */
async function echoCall(srv, phone, rtp, { trunkPort, mediaPort, callId, name, offer = phoneSdp(rtp.address().port) }) {
  const reg = await phone.request(srv, request(phone, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:alice@127.0.0.1",
    to: "sip:alice@127.0.0.1", contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Expires: 600"] }));
  assert.equal(status(reg), 200, "alice registered");
  const provider = sipp(["-sf", sf("uas_rtp_echo.xml"), "-p", String(trunkPort), "-mp", String(mediaPort), "-rtp_echo", "-m", "1",
    "-timeout", "30s", "-timeout_error"], { name, ip: TRUNK_IP, timeoutMs: 35_000 });
  await sleep(300);
  const fromTag = token("f");
  const inv = request(phone, { ruri: `sip:15551234@127.0.0.1:${srv.port}`, from: "sip:alice@127.0.0.1", fromTag, to: "sip:15551234@127.0.0.1",
    callId, contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Content-Type: application/sdp"], body: offer });
  const ok = await phone.request(srv, inv, { timeoutMs: 8000 });
  assert.equal(status(ok), 200, `the call answered:\n${ok}`);
  const toTag = /;tag=([^;>\s]+)/.exec(hdrs(ok, "To")[0])[1];
  phone.send(request(phone, { method: "ACK", ruri: `sip:127.0.0.1:${srv.port}`, from: "sip:alice@127.0.0.1", fromTag, to: "sip:15551234@127.0.0.1",
    toTag, callId, cseq: 1, contact: null }), srv.port);
  const hangUp = async () => {
    const bye = await phone.request(srv, request(phone, { method: "BYE", ruri: `sip:127.0.0.1:${srv.port}`, from: "sip:alice@127.0.0.1", fromTag,
      to: "sip:15551234@127.0.0.1", toTag, callId, cseq: 2, contact: null }));
    assert.equal(status(bye), 200);
    const r = await provider;
    assert.equal(r.code, 0, describe(r));
    await settle(srv);
  };
  return { ok, hangUp };
}

/** PACKETS RTP packets at 20 ms from rtp to the relay's port `port`; then waits (bounded) for their echoes. */
async function sendRtp(rtp, port, echoes) {
  for (let seq = 1; seq <= PACKETS; seq++) {
    rtp.send(rtpPacket(seq), port, "127.0.0.1");
    await sleep(20);
  }
  for (let i = 0; i < 50 && echoes.length < PACKETS; i++) await sleep(20);
}

for (const host of HOSTS) {
  test(`${host}: RTP through the B2BUA's relay to SIPp's echo and back, every packet, from the relay's port`, { timeout: 60_000 }, async () => {
    const trunkPort = await freePort();
    const mediaPort = await freePort();
    const base = await relayBase();
    const usage = scratch(`relay-usage-${host}.jsonl`, "");
    const config = {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], usageLog: usage,
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", mediaRelay: true },
      ],
      mediaRelay: { addresses: ["127.0.0.1"], portMin: base, portMax: base + 63, idle: 30 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const phone = await Ua.open();
      const rtp = createSocket("udp4");
      await new Promise((r) => rtp.bind(0, "127.0.0.1", r));
      const echoes = [];
      const callId = token("call");
      rtp.on("message", (m, r) => echoes.push({ m, from: `${r.address}:${r.port}` }));
      try {
        const { ok, hangUp } = await echoCall(srv, phone, rtp, { trunkPort, mediaPort, callId, name: "provider" });
        // the answer names the relay: its address and the port facing the phone; SIPp's offer saw the other one
        const answer = bodyOf(ok);
        assert.match(answer, /^c=IN IP4 127\.0\.0\.1\r$/m);
        const phoneLeg = mPort(answer);
        assert.ok(phoneLeg >= base && phoneLeg <= base + 63 && phoneLeg % 2 === 0, `a relay port in the answer: ${answer}`);
        assert.notEqual(phoneLeg, mediaPort, "not SIPp's own media port");
        await settle(srv);
        const toTrunk = srv.sip("out").find((m) => m.peer.endsWith(`${TRUNK_IP}:${trunkPort}`) && m.first.startsWith("INVITE "));
        assert.ok(toTrunk, "the INVITE went to the provider");
        const providerLeg = mPort(bodyOf(toTrunk.sip));
        assert.ok(providerLeg >= base && providerLeg <= base + 63 && providerLeg !== phoneLeg, `the relay's other port in the offer:\n${toTrunk.sip}`);
        assert.ok(!bodyOf(toTrunk.sip).includes(String(rtp.address().port)), "the phone's RTP port did not cross");
        // media: 50 packets at 20 ms, each echoed by SIPp through the relay
        await sendRtp(rtp, phoneLeg, echoes);
        assert.equal(echoes.length, PACKETS, `every packet came back (${echoes.length} of ${PACKETS})`);
        for (const e of echoes) assert.equal(e.from, `127.0.0.1:${phoneLeg}`, "from the relay's port facing the phone");
        assert.deepEqual(echoes.map((e) => e.m.readUInt16BE(2)), Array.from({ length: PACKETS }, (_, i) => i + 1), "in order, none missing");
        assert.ok(echoes.every((e) => e.m.equals(rtpPacket(e.m.readUInt16BE(2)))), "byte for byte");
        // hang up: BYE to the B2BUA, carried to SIPp; the legs close with their counters
        await hangUp();
      } finally {
        phone.close();
        rtp.close();
      }
      await srv.stop();
      const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.event === "relay");
      assert.equal(records.length, 2, `two legs closed: ${JSON.stringify(records)}`);
      for (const rec of records) {
        assert.equal(rec.callId, callId);
        assert.equal(rec.packets, PACKETS, `each leg took ${PACKETS} packets: ${JSON.stringify(rec)}`);
        assert.equal(rec.bytes, PACKETS * 172);
        assert.equal(rec.lost, 0);
        assert.equal(rec.dropped, 0);
      }
    });
  });
}

for (const host of HOSTS) {
  test(`${host}: a call with no media for "idle" seconds is ended: BYE to the phone and to the provider`, { timeout: 60_000 }, async () => {
    const trunkPort = await freePort();
    const base = await relayBase();
    const config = {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", mediaRelay: true },
      ],
      mediaRelay: { addresses: ["127.0.0.1"], portMin: base, portMax: base + 63, idle: 2 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const phone = await Ua.open();
      try {
        const reg = await phone.request(srv, request(phone, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:alice@127.0.0.1",
          to: "sip:alice@127.0.0.1", contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Expires: 600"] }));
        assert.equal(status(reg), 200);
        const provider = sipp(["-sf", sf("uas_rtp_echo.xml"), "-p", String(trunkPort), "-mp", String(await freePort()), "-m", "1",
          "-timeout", "30s", "-timeout_error"], { name: "provider-idle", ip: TRUNK_IP, timeoutMs: 35_000 });
        await sleep(300);
        const callId = token("idle");
        const fromTag = token("f");
        const ok = await phone.request(srv, request(phone, { ruri: `sip:15551234@127.0.0.1:${srv.port}`, from: "sip:alice@127.0.0.1", fromTag,
          to: "sip:15551234@127.0.0.1", callId, contact: `<sip:alice@127.0.0.1:${phone.port}>`, extra: ["Content-Type: application/sdp"], body: phoneSdp(4000) }), { timeoutMs: 8000 });
        assert.equal(status(ok), 200);
        const toTag = /;tag=([^;>\s]+)/.exec(hdrs(ok, "To")[0])[1];
        phone.send(request(phone, { method: "ACK", ruri: `sip:127.0.0.1:${srv.port}`, from: "sip:alice@127.0.0.1", fromTag, to: "sip:15551234@127.0.0.1",
          toTag, callId, cseq: 1, contact: null }), srv.port);
        const answered = Date.now();
        // nobody sends media: 2 s later (the relay checks every 0.25-1 s) our BYE comes
        const bye = await phone.waitFor((m) => m.startsWith("BYE ") && hdrs(m, "Call-ID")[0] === callId, 6000);
        assert.ok(bye, "the phone got our BYE");
        const after = Date.now() - answered;
        assert.ok(after >= 1900 && after < 4500, `BYE ${after} ms after the answer (idle 2 s)`);
        phone.send(`SIP/2.0 200 OK\r\n${bye.split("\r\n").slice(1).filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)).join("\r\n")}\r\nContent-Length: 0\r\n\r\n`, srv.port);
        const r = await provider;
        assert.equal(r.code, 0, `the provider got our BYE and answered it\n${describe(r)}`);
        await settle(srv);
        assert.ok(srv.logs.some((o) => o.msg === "relay idle"), "the host logged the idle stream");
      } finally {
        phone.close();
      }
    });
  });
}

// rtcp-mux (RFC 5761): the phone offers a=rtcp-mux and sends its RTCP on the RTP port, between its RTP
// packets. The relay tells them apart by packet type: the leg's usage record counts every packet, and no
// sequence gap (an RTCP packet read as RTP would make one from its length field).
for (const host of HOSTS) {
  test(`${host}: rtcp-mux: RTCP on the RTP port is not taken for RTP (no false sequence gaps)`, { timeout: 60_000 }, async () => {
    const trunkPort = await freePort();
    const base = await relayBase();
    const usage = scratch(`relay-mux-${host}.jsonl`, "");
    const config = {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], usageLog: usage,
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", mediaRelay: true },
      ],
      mediaRelay: { addresses: ["127.0.0.1"], portMin: base, portMax: base + 63 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const phone = await Ua.open();
      const rtp = createSocket("udp4");
      await new Promise((r) => rtp.bind(0, "127.0.0.1", r));
      try {
        const { ok, hangUp } = await echoCall(srv, phone, rtp, { trunkPort, mediaPort: await freePort(), callId: token("mux"), name: "provider-mux",
          offer: phoneSdp(rtp.address().port) + "a=rtcp-mux\r\n" });
        const phoneLeg = mPort(bodyOf(ok));
        // 20 RTP packets (seq 1..20), an RTCP receiver report (PT 201, length field 7) after every 4th
        const rr = Buffer.alloc(32);
        rr[0] = 0x81; rr[1] = 201; rr.writeUInt16BE(7, 2); rr.writeUInt32BE(0x51b11a6, 4);
        let sent = 0;
        for (let seq = 1; seq <= 20; seq++) {
          rtp.send(rtpPacket(seq), phoneLeg, "127.0.0.1");
          sent++;
          if (seq % 4 === 0) { rtp.send(rr, phoneLeg, "127.0.0.1"); sent++; }
          await sleep(20);
        }
        await sleep(300);
        await hangUp();
        await srv.stop();
        const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.event === "relay");
        const mine = records.find((o) => o.port === phoneLeg);
        assert.ok(mine, `the phone's leg's record: ${JSON.stringify(records)}`);
        assert.equal(mine.packets, sent, `every packet the phone sent (${sent}: 20 RTP, 5 RTCP)`);
        assert.equal(mine.lost, 0, `no sequence gap: ${JSON.stringify(mine)}`);
      } finally {
        phone.close();
        rtp.close();
      }
    });
  });
}


// Relay interfaces (rtpengine's interface=): the phones' side on the default interface, bound on
// 127.0.0.1 and advertising 127.0.0.7 (a relay behind 1:1 NAT: the phone, "through the NAT", sends to
// 127.0.0.1); the carrier's side on interface "carrier" at 127.0.0.2 ("relayInterface"). Each party's
// SDP names its own interface's advertised address, each leg is bound on its interface's address, and
// the RTP goes through both and back.
for (const host of HOSTS) {
  test(`${host}: relay interfaces: each side's legs bound on its interface, its SDP naming the advertised address; RTP flows`, { timeout: 60_000 }, async () => {
    const trunkPort = await freePort();
    const mediaPort = await freePort();
    const base = await relayBase();
    const config = {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", mediaRelay: true, relayInterface: "carrier" },
      ],
      mediaRelay: { addresses: ["127.0.0.1!127.0.0.7", "carrier/127.0.0.2"], portMin: base, portMax: base + 63, idle: 30 },
    };
    await withServer({ host, tcp: false, config }, async (srv) => {
      const phone = await Ua.open();
      const rtp = createSocket("udp4");
      await new Promise((r) => rtp.bind(0, "127.0.0.1", r));
      const echoes = [];
      const callId = token("ifcall");
      rtp.on("message", (m, r) => echoes.push({ m, from: `${r.address}:${r.port}` }));
      try {
        const { ok, hangUp } = await echoCall(srv, phone, rtp, { trunkPort, mediaPort, callId, name: "provider-if" });
        const answer = bodyOf(ok);
        assert.match(answer, /^c=IN IP4 127\.0\.0\.7\r$/m, "the phone's SDP names the default interface's advertised address");
        assert.doesNotMatch(answer, /127\.0\.0\.[129]\b/, `no bound or provider address in the phone's SDP:\n${answer}`);
        const phoneLeg = mPort(answer);
        await settle(srv);
        const toTrunk = srv.sip("out").find((m) => m.peer.endsWith(`${TRUNK_IP}:${trunkPort}`) && m.first.startsWith("INVITE "));
        assert.ok(toTrunk, "the INVITE went to the provider");
        const offer = bodyOf(toTrunk.sip);
        assert.match(offer, /^c=IN IP4 127\.0\.0\.2\r$/m, `the provider's SDP names interface "carrier":\n${offer}`);
        const providerLeg = mPort(offer);
        assert.ok(boundUdp("127.0.0.1", phoneLeg), `the phone's leg bound on 127.0.0.1:${phoneLeg}`);
        assert.ok(!boundUdp("127.0.0.7", phoneLeg), "not on the advertised address");
        assert.ok(boundUdp("127.0.0.2", providerLeg), `the provider's leg bound on 127.0.0.2:${providerLeg}`);
        assert.ok(!boundUdp("127.0.0.1", providerLeg), "not on the default interface");
        await sendRtp(rtp, phoneLeg, echoes); // through the "NAT": the advertised 127.0.0.7 maps to 127.0.0.1
        assert.equal(echoes.length, PACKETS, `every packet came back (${echoes.length} of ${PACKETS})`);
        for (const e of echoes) assert.equal(e.from, `127.0.0.1:${phoneLeg}`, "from the phone's leg");
        await hangUp();
      } finally {
        phone.close();
        rtp.close();
      }
    });
  });
}
